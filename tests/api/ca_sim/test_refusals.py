"""Every refusal: recorded in the CA database as FAILED (30) or DENIED (31), with AD CS's
HRESULT and a message that says why, and answered 200 with the RequestResult."""

from __future__ import annotations

import datetime as dt
import warnings

import httpx
import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.x509.oid import NameOID

from ca_sim.hresult import Hresult
from shared.api.ca import Disposition, RevocationReason
from shared.clock import FixedClock
from shared.pki import (
    CertProfile,
    Eku,
    KeySpec,
    LabCert,
    LabPki,
    PrivateKey,
    San,
    derive_key,
    issue_certificate,
)

from .support import ADMIN, NOW, TOKEN, all_requests, certificate_of, countersign, csr_der, submit


async def refused(
    response: httpx.Response, disposition: Disposition, hresult: Hresult, *words: str
) -> dict[str, object]:
    assert response.status_code == 200, response.text
    reply: dict[str, object] = response.json()
    assert reply["disposition"] == disposition
    assert reply["hresult"] == hresult.value
    assert reply["certificate"] is None
    assert reply["serialNumber"] is None
    message = reply["dispositionMessage"]
    assert isinstance(message, str)
    assert hresult.hex in message
    for word in words:
        assert word in message
    return reply


async def recorded(client: httpx.AsyncClient, reply: dict[str, object], requester: str) -> None:
    row = (await client.get(f"/ca/requests/{reply['requestId']}")).json()
    assert row == reply
    [entry] = [r for r in await all_requests(client) if r["requestId"] == reply["requestId"]]
    assert entry["requester"] == requester


AGENT = "CN=NDES-Enrollment-Agent,O=Lab"


async def test_unknown_template(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    response = await submit(client, countersign(csr_der(device_key), *agent), "NoSuchTemplate")
    reply = await refused(
        response, Disposition.DENIED, Hresult.CERTSRV_E_UNSUPPORTED_CERT_TYPE, "NoSuchTemplate"
    )
    await recorded(client, reply, AGENT)


async def test_key_shorter_than_the_template_minimum(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], weak_key: PrivateKey
) -> None:
    response = await submit(client, countersign(csr_der(weak_key), *agent), "IntuneDeviceCert")
    reply = await refused(
        response, Disposition.DENIED, Hresult.CERTSRV_E_KEY_LENGTH, "1024", "2048"
    )
    await recorded(client, reply, AGENT)


async def test_the_ipsec_template_takes_1024_bit_keys(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], weak_key: PrivateKey
) -> None:
    response = await submit(
        client, countersign(csr_der(weak_key), *agent), "IPSECIntermediateOffline"
    )
    assert response.json()["disposition"] == Disposition.ISSUED


def long_common_name() -> x509.Name:
    """A commonName over ub-common-name (64), which cryptography builds only when told not to
    validate (and then warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x" * 65, _validate=False)])


LONG_CN = long_common_name()


@pytest.mark.parametrize("subject", ["", LONG_CN], ids=["empty", "cn-over-64"])
async def test_empty_or_too_long_subject(
    client: httpx.AsyncClient,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
    subject: str | x509.Name,
) -> None:
    request = csr_der(device_key, subject, sans=[San("dns", "device.lab.test")])
    response = await submit(client, countersign(request, *agent))
    await refused(response, Disposition.DENIED, Hresult.CERTSRV_E_BAD_REQUESTSUBJECT, "subject")


async def test_csr_whose_own_signature_does_not_verify(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    good = csr_der(device_key)
    tampered = good[:-1] + bytes([good[-1] ^ 0x01])  # the last byte of the signature
    response = await submit(client, countersign(tampered, *agent))
    reply = await refused(response, Disposition.FAILED, Hresult.NTE_BAD_SIGNATURE, "Error Parsing")
    await recorded(client, reply, AGENT)


async def test_signed_data_whose_content_is_not_a_pkcs10(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey]
) -> None:
    response = await submit(client, countersign(b"not a certification request", *agent))
    reply = await refused(response, Disposition.FAILED, Hresult.ERROR_INVALID_DATA)
    await recorded(client, reply, AGENT)


async def test_garbage_from_the_service_account_is_recorded(client: httpx.AsyncClient) -> None:
    response = await submit(client, b"\x30\x03\x02\x01\x05", "EnrollmentAgentOffline", token=TOKEN)
    reply = await refused(response, Disposition.FAILED, Hresult.ERROR_INVALID_DATA)
    await recorded(client, reply, "LAB\\NDESService")


async def test_agent_signature_that_does_not_verify(
    client: httpx.AsyncClient,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
    other_key: PrivateKey,
) -> None:
    agent_cert, _ = agent
    response = await submit(client, countersign(csr_der(device_key), agent_cert, other_key))
    reply = await refused(response, Disposition.FAILED, Hresult.NTE_BAD_SIGNATURE, "agent")
    await recorded(client, reply, AGENT)


async def test_unsigned_signed_data(client: httpx.AsyncClient, device_key: PrivateKey) -> None:
    unsigned = cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": {
                "version": "v1",
                "digest_algorithms": [],
                "encap_content_info": {"content_type": "data", "content": csr_der(device_key)},
                "signer_infos": [],
            },
        }
    ).dump()
    response = await submit(client, unsigned, token=TOKEN)
    await refused(response, Disposition.FAILED, Hresult.CRYPT_E_NO_SIGNER)


async def test_agent_from_another_ca(client: httpx.AsyncClient, device_key: PrivateKey) -> None:
    key = derive_key(KeySpec.rsa(2048), b"test", "rogue-agent")
    subject = x509.Name.from_rfc4514_string("CN=Rogue Agent")
    profile = CertProfile(
        validity=dt.timedelta(days=30), ekus=(Eku.CERTIFICATE_REQUEST_AGENT.value,)
    )
    rogue = issue_certificate(
        subject=subject,
        public_key=key.public_key(),
        issuer_cert=None,
        issuer_key=key,
        serial=12345,
        not_before=NOW - dt.timedelta(days=1),
        profile=profile,
    )
    response = await submit(client, countersign(csr_der(device_key), rogue, key))
    reply = await refused(response, Disposition.DENIED, Hresult.CERT_E_CHAINING, "Rogue Agent")
    await recorded(client, reply, "CN=Rogue Agent")


async def test_signer_without_the_certificate_request_agent_eku(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    # a device certificate from this very CA: trusted, but not an enrolment agent
    issued = await submit(client, countersign(csr_der(device_key, "CN=device-9"), *agent))
    device_cert = certificate_of(issued.json())

    response = await submit(client, countersign(csr_der(device_key), device_cert, device_key))
    await refused(
        response, Disposition.DENIED, Hresult.CERTSRV_E_SIGNATURE_REJECTED, "1.3.6.1.4.1.311.20.2.1"
    )


async def test_expired_agent(
    client: httpx.AsyncClient,
    clock: FixedClock,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    agent_cert, _ = agent
    clock.advance(agent_cert.not_valid_after_utc - clock.now() + dt.timedelta(seconds=1))
    response = await submit(client, countersign(csr_der(device_key), *agent))
    await refused(response, Disposition.DENIED, Hresult.CERT_E_EXPIRED, "NDES-Enrollment-Agent")


async def test_revoked_agent(
    client: httpx.AsyncClient,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    serial = format(lab_pki.cert(LabCert.NDES_ENROLLMENT_AGENT).serial_number, "x")
    body = {"serialNumber": serial, "reason": RevocationReason.KEY_COMPROMISE}
    revoked = await client.post("/ca/revoke", json=body, headers=ADMIN)
    assert revoked.json()["revoked"] is True

    response = await submit(client, countersign(csr_der(device_key), *agent))
    await refused(response, Disposition.DENIED, Hresult.CRYPT_E_REVOKED, "revoked")


async def test_agent_template_without_an_agent_signature(
    client: httpx.AsyncClient, device_key: PrivateKey
) -> None:
    response = await submit(client, csr_der(device_key), "IntuneDeviceCert", token=TOKEN)
    reply = await refused(
        response, Disposition.DENIED, Hresult.CERTSRV_E_SIGNATURE_POLICY_REQUIRED, "agent"
    )
    await recorded(client, reply, "LAB\\NDESService")


async def test_ra_template_without_the_admin_token(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    request = countersign(csr_der(device_key), *agent)
    response = await submit(client, request, "EnrollmentAgentOffline")
    reply = await refused(response, Disposition.DENIED, Hresult.CERTSRV_E_TEMPLATE_DENIED)
    await recorded(client, reply, AGENT)


async def test_refusals_are_searchable(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], weak_key: PrivateKey
) -> None:
    await submit(client, countersign(csr_der(weak_key), *agent))
    await submit(client, countersign(csr_der(weak_key), *agent), "NoSuchTemplate")

    denied = await all_requests(client, disposition="31")
    assert [r["hresult"] for r in denied] == [
        Hresult.CERTSRV_E_KEY_LENGTH,
        Hresult.CERTSRV_E_UNSUPPORTED_CERT_TYPE,
    ]
    assert await all_requests(client, disposition="denied") == denied
    assert await all_requests(client, disposition="failed") == []
    bad = await client.get("/ca/requests", params={"disposition": "bogus"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "pending (9)" in bad.json()["detail"]
