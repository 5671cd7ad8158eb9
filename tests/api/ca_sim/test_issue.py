"""Issuance: agent-countersigned device requests, and the NDES service account's own RA
certificates enrolled with the admin token."""

from __future__ import annotations

import base64
import datetime as dt

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from shared.api.ca import Disposition
from shared.clock import FixedClock
from shared.pki import Eku, LabCert, LabPki, PrivateKey, San

from .support import (
    ADMIN,
    BASE_URL,
    NOW,
    TOKEN,
    all_requests,
    certificate_of,
    countersign,
    csr_der,
    submit,
)

YEAR = dt.timedelta(days=365)
SKEW = dt.timedelta(minutes=10)


def eku_of(cert: x509.Certificate) -> list[str]:
    value = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    return [oid.dotted_string for oid in value]


def usage_of(cert: x509.Certificate) -> x509.KeyUsage:
    ext = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ext.critical
    return ext.value


async def test_agent_countersigned_device_request_is_issued(
    client: httpx.AsyncClient,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    sans = (San("dns", "device-1.lab.test"), San("upn", "alice@lab.test"))
    request = countersign(csr_der(device_key, "CN=device-1,O=Lab", sans=sans), *agent)

    response = await submit(client, request, "IntuneDeviceCert", transaction_id="tx-1")

    assert response.status_code == 200
    reply = response.json()
    assert reply["disposition"] == Disposition.ISSUED
    assert reply["hresult"] == 0
    assert reply["dispositionMessage"] == "Issued"
    cert = certificate_of(reply)
    issuing = lab_pki.cert(LabCert.ISSUING_CA)
    cert.verify_directly_issued_by(issuing)
    assert cert.subject.rfc4514_string() == "CN=device-1,O=Lab"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device-1.lab.test"]
    assert eku_of(cert) == [Eku.CLIENT_AUTH.value]
    usage = usage_of(cert)
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert cert.not_valid_before_utc == NOW - SKEW
    assert cert.not_valid_after_utc == NOW + YEAR
    assert reply["serialNumber"] == format(cert.serial_number, "x")
    assert cert.serial_number.bit_length() == 159
    chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in reply["chain"]]
    assert chain == [issuing, lab_pki.cert(LabCert.ROOT_CA)]

    again = await client.get(f"/ca/requests/{reply['requestId']}")
    assert again.status_code == 200
    assert again.json() == reply
    [row] = await all_requests(client, template="IntuneDeviceCert")
    assert row["requester"] == "CN=NDES-Enrollment-Agent,O=Lab"
    assert row["transactionId"] == "tx-1"
    assert row["subject"] == "CN=device-1,O=Lab"


async def test_issued_certificates_point_at_the_served_aia_and_cdp(
    client: httpx.AsyncClient,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    response = await submit(client, countersign(csr_der(device_key), *agent))
    cert = certificate_of(response.json())

    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    [ca_issuers] = [d for d in aia if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS]
    assert ca_issuers.access_location.value == f"{BASE_URL}/pki/issuing.crt"
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    [point] = cdp
    assert point.full_name is not None
    assert [name.value for name in point.full_name] == [f"{BASE_URL}/pki/issuing.crl"]

    # follow them, as a relying party would
    served = await client.get(ca_issuers.access_location.value.removeprefix(BASE_URL))
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pkix-cert"
    assert x509.load_der_x509_certificate(served.content) == lab_pki.cert(LabCert.ISSUING_CA)
    crl = await client.get(point.full_name[0].value.removeprefix(BASE_URL))
    assert crl.status_code == 200
    assert crl.headers["content-type"] == "application/pkix-crl"
    parsed = x509.load_der_x509_crl(crl.content)
    assert parsed.is_signature_valid(lab_pki.cert(LabCert.ISSUING_CA).public_key())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "ekus", "validity"),
    [
        ("IPSECIntermediateOffline", ["1.3.6.1.5.5.8.2.2"], 2 * YEAR),
        ("IntuneUserCert", [Eku.CLIENT_AUTH.value, Eku.EMAIL_PROTECTION.value], YEAR),
    ],
)
async def test_templates_set_usage_and_validity(
    client: httpx.AsyncClient,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
    template: str,
    ekus: list[str],
    validity: dt.timedelta,
) -> None:
    # the CSR asks for serverAuth and key usage digitalSignature only: the template wins
    request = csr_der(device_key, key_usage=frozenset({"digital_signature"}))
    response = await submit(client, countersign(request, *agent), template)

    cert = certificate_of(response.json())
    assert eku_of(cert) == ekus
    assert usage_of(cert).key_encipherment
    assert cert.not_valid_after_utc == NOW + validity


async def test_the_ndes_service_account_enrols_its_ra_certificates_with_the_admin_token(
    client: httpx.AsyncClient, device_key: PrivateKey
) -> None:
    signing = await submit(
        client,
        csr_der(device_key, "CN=NDES RA Signing,O=Lab"),
        "EnrollmentAgentOffline",
        token=TOKEN,
    )
    encryption = await submit(
        client, csr_der(device_key, "CN=NDES RA Encryption,O=Lab"), "CEPEncryption", token=TOKEN
    )

    sign_cert, encrypt_cert = certificate_of(signing.json()), certificate_of(encryption.json())
    cra = Eku.CERTIFICATE_REQUEST_AGENT.value
    assert eku_of(sign_cert) == [cra]
    assert eku_of(encrypt_cert) == [cra]
    assert usage_of(sign_cert).digital_signature and not usage_of(sign_cert).key_encipherment
    assert usage_of(encrypt_cert).key_encipherment and not usage_of(encrypt_cert).digital_signature
    assert sign_cert.not_valid_after_utc == NOW + 2 * YEAR
    rows = await all_requests(client, requester="ndesservice")
    assert [r["template"] for r in rows] == ["EnrollmentAgentOffline", "CEPEncryption"]
    assert {r["requester"] for r in rows} == {"LAB\\NDESService"}


async def test_an_enrolled_agent_certificate_countersigns_device_requests(
    client: httpx.AsyncClient, device_key: PrivateKey, other_key: PrivateKey
) -> None:
    # NDES's way: enrol the Exchange Enrollment Agent certificate, then sign with it
    agent_key = other_key
    enrolled = await submit(
        client, csr_der(agent_key, "CN=NDES Agent 2,O=Lab"), "EnrollmentAgentOffline", token=TOKEN
    )
    agent_cert = certificate_of(enrolled.json())

    response = await submit(client, countersign(csr_der(device_key), agent_cert, agent_key))

    assert response.json()["disposition"] == Disposition.ISSUED
    [row] = await all_requests(client, template="intunedevicecert")
    assert row["requester"] == "CN=NDES Agent 2,O=Lab"


async def test_validity_never_outlives_the_issuing_ca(
    client: httpx.AsyncClient, clock: FixedClock, lab_pki: LabPki, device_key: PrivateKey
) -> None:
    issuing_end = lab_pki.cert(LabCert.ISSUING_CA).not_valid_after_utc
    clock.advance(issuing_end - dt.timedelta(days=100) - clock.now())

    response = await submit(client, csr_der(device_key), "EnrollmentAgentOffline", token=TOKEN)

    assert certificate_of(response.json()).not_valid_after_utc == issuing_end


async def test_the_lab_pki_ra_certificates_are_in_the_ca_database(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    rows = await all_requests(client, requester="lab pki")
    serials = {
        format(lab_pki.cert(label).serial_number, "x")
        for label in (LabCert.NDES_RA_SIGN, LabCert.NDES_RA_ENCRYPT, LabCert.NDES_ENROLLMENT_AGENT)
    }
    assert {r["serialNumber"] for r in rows} == serials
    assert all(r["disposition"] == Disposition.ISSUED for r in rows)
    response = await client.get("/ca/requests", headers=ADMIN, params={"disposition": "issued"})
    assert len(response.json()) == 3
