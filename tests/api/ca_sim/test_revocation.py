"""Revocation and CRLs: the serial shows on the issuing CA's CRL with its reason, at once; the
CRL is renewed when a third of its validity is left, by the injected clock."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ca_sim.hresult import Hresult
from shared.api.ca import Disposition, RevocationReason
from shared.clock import FixedClock
from shared.pki import LabCert, LabPki, PrivateKey

from .support import ADMIN, NOW, certificate_of, countersign, csr_der, submit

WEEK = dt.timedelta(hours=168)  # the default crl_validity_hours


async def issue(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], key: PrivateKey
) -> tuple[int, x509.Certificate]:
    reply = (await submit(client, countersign(csr_der(key), *agent))).json()
    return reply["requestId"], certificate_of(reply)


async def revoke(
    client: httpx.AsyncClient, serial: str, reason: RevocationReason
) -> dict[str, object]:
    body = {"serialNumber": serial, "reason": int(reason)}
    response = await client.post("/ca/revoke", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert isinstance(reply, dict)
    return reply


async def crl_of(
    client: httpx.AsyncClient, lab_pki: LabPki, ca: str = "issuing"
) -> x509.CertificateRevocationList:
    response = await client.get(f"/pki/{ca}.crl")
    assert response.status_code == 200
    crl = x509.load_der_x509_crl(response.content)
    label = LabCert.ISSUING_CA if ca.startswith("issuing") else LabCert.ROOT_CA
    issuer = lab_pki.cert(label)
    public_key = issuer.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert crl.is_signature_valid(public_key)
    assert crl.issuer == issuer.subject
    return crl


def number_of(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def reason_of(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


async def test_a_revoked_certificate_is_on_the_crl_with_its_reason(
    client: httpx.AsyncClient,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    request_id, cert = await issue(client, agent, device_key)
    before = await crl_of(client, lab_pki)
    assert before.get_revoked_certificate_by_serial_number(cert.serial_number) is None

    # a person pastes the serial in upper case with spaces: the CA reads it all the same
    typed = " ".join(format(cert.serial_number, "X")[i : i + 4] for i in range(0, 40, 4))
    reply = await revoke(client, typed, RevocationReason.KEY_COMPROMISE)

    assert reply == {
        "serialNumber": format(cert.serial_number, "x"),
        "revoked": True,
        "hresult": 0,
        "message": f"certificate {format(cert.serial_number, 'x')} revoked",
    }
    after = await crl_of(client, lab_pki)
    assert number_of(after) == number_of(before) + 1
    entry = after.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert reason_of(entry) == x509.ReasonFlags.key_compromise
    assert entry.revocation_date_utc == NOW
    assert after.last_update_utc == NOW
    assert after.next_update_utc == NOW + WEEK
    state = (await client.get(f"/ca/requests/{request_id}")).json()
    assert state["disposition"] == Disposition.REVOKED
    assert state["certificate"] is not None


async def test_revoking_twice(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    _, cert = await issue(client, agent, device_key)
    serial = format(cert.serial_number, "x")
    await revoke(client, serial, RevocationReason.SUPERSEDED)

    again = await revoke(client, serial, RevocationReason.KEY_COMPROMISE)

    assert again["revoked"] is False
    assert again["hresult"] == Hresult.CRYPT_E_REVOKED
    assert "already revoked (SUPERSEDED" in str(again["message"])


async def test_unknown_serial(client: httpx.AsyncClient) -> None:
    reply = await revoke(client, "0123456789abcdef", RevocationReason.UNSPECIFIED)
    assert reply["revoked"] is False
    assert reply["hresult"] == Hresult.ERROR_FILE_NOT_FOUND
    assert "0123456789abcdef" in str(reply["message"])


async def test_unspecified_reason_writes_no_reason_code(
    client: httpx.AsyncClient,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    _, cert = await issue(client, agent, device_key)
    await revoke(client, format(cert.serial_number, "x"), RevocationReason.UNSPECIFIED)
    entry = (await crl_of(client, lab_pki)).get_revoked_certificate_by_serial_number(
        cert.serial_number
    )
    assert entry is not None
    assert reason_of(entry) is None


async def test_hold_release_and_hold_made_permanent(
    client: httpx.AsyncClient,
    clock: FixedClock,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    request_id, held = await issue(client, agent, device_key)
    _, kept = await issue(client, agent, device_key)
    serial, kept_serial = format(held.serial_number, "x"), format(kept.serial_number, "x")

    await revoke(client, serial, RevocationReason.CERTIFICATE_HOLD)
    entry = (await crl_of(client, lab_pki)).get_revoked_certificate_by_serial_number(
        held.serial_number
    )
    assert entry is not None
    assert reason_of(entry) == x509.ReasonFlags.certificate_hold

    released = await revoke(client, serial, RevocationReason.REMOVE_FROM_CRL)
    assert (released["revoked"], released["hresult"]) == (False, 0)
    crl = await crl_of(client, lab_pki)
    assert crl.get_revoked_certificate_by_serial_number(held.serial_number) is None
    assert (await client.get(f"/ca/requests/{request_id}")).json()["disposition"] == 20

    not_held = await revoke(client, kept_serial, RevocationReason.REMOVE_FROM_CRL)
    assert not_held["hresult"] == Hresult.CERTSRV_E_BAD_REQUESTSTATUS

    held_at = clock.now()
    await revoke(client, serial, RevocationReason.CERTIFICATE_HOLD)
    clock.advance(dt.timedelta(days=1))
    permanent = await revoke(client, serial, RevocationReason.KEY_COMPROMISE)
    assert permanent["revoked"] is True
    entry = (await crl_of(client, lab_pki)).get_revoked_certificate_by_serial_number(
        held.serial_number
    )
    assert entry is not None
    assert reason_of(entry) == x509.ReasonFlags.key_compromise
    assert entry.revocation_date_utc == held_at


async def test_the_crl_is_renewed_when_a_third_of_its_validity_is_left(
    client: httpx.AsyncClient, clock: FixedClock, lab_pki: LabPki
) -> None:
    first = await crl_of(client, lab_pki)
    assert (await client.get("/pki/issuing.crl")).content == first.public_bytes(Encoding.DER)

    clock.advance(WEEK * 2 / 3 - dt.timedelta(seconds=1))
    assert number_of(await crl_of(client, lab_pki)) == number_of(first)

    later = clock.advance(dt.timedelta(seconds=2))
    renewed = await crl_of(client, lab_pki)
    assert number_of(renewed) == number_of(first) + 1
    assert renewed.last_update_utc == later
    assert renewed.next_update_utc == later + WEEK


async def test_expired_certificates_leave_the_crl(
    client: httpx.AsyncClient,
    clock: FixedClock,
    lab_pki: LabPki,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    _, cert = await issue(client, agent, device_key)
    await revoke(client, format(cert.serial_number, "x"), RevocationReason.SUPERSEDED)
    clock.advance(cert.not_valid_after_utc - clock.now() + dt.timedelta(days=1))
    crl = await crl_of(client, lab_pki)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is None


@pytest.mark.parametrize("name", ["root", "root-ca"])
async def test_the_root_crl_and_certificates_are_served(
    client: httpx.AsyncClient, lab_pki: LabPki, name: str
) -> None:
    crl = await crl_of(client, lab_pki, name)
    assert len(crl) == 0
    assert crl.next_update_utc == NOW + dt.timedelta(hours=24 * 182)
    for path, label in [
        (f"/pki/{name}.crt", LabCert.ROOT_CA),
        ("/pki/issuing.crt", LabCert.ISSUING_CA),
        ("/pki/issuing-ca.crt", LabCert.ISSUING_CA),
    ]:
        response = await client.get(path)
        assert response.status_code == 200
        assert x509.load_der_x509_certificate(response.content) == lab_pki.cert(label)
