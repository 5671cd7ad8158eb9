"""The general SCEP workflow, end to end: NDES with its own one-time passwords and the enterprise
CA as real processes, enrolled by real clients (micromdm's scepclient, certmonger) and by the
lab's codec-built driver where a test needs precise control of the request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab import driver
from shared import scep
from shared.pki import CsrSpec, KeySpec, San, generate_key, load_private_key_pem
from tests.support.clients import (
    Certmonger,
    have_certmonger,
    have_scepclient,
    openssl_verify,
    run_scepclient,
)

from .conftest import GeneralWorkflowLab

pytestmark = pytest.mark.e2e
needs_scepclient = pytest.mark.skipif(not have_scepclient(), reason="scepclient not installed")
needs_certmonger = pytest.mark.skipif(not have_certmonger(), reason="certmonger not installed")


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _ekus(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _requests(lab: GeneralWorkflowLab, **params: str) -> list[dict[str, object]]:
    response = lab.ca("GET", "/ca/requests", params=params | {"limit": "500"})
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()
    return entries


def _check_chain(lab: GeneralWorkflowLab, cert_path: Path) -> None:
    ok, output = openssl_verify(cert_path, [lab.chain_pem()])
    assert ok, output


def _rsa(size: int = 2048) -> object:
    return generate_key(KeySpec("rsa", size))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


async def _ca_info(lab: GeneralWorkflowLab) -> driver.CaInfo:
    async with httpx.AsyncClient(timeout=30) as client:
        return await driver.fetch_ca_info(client, lab.scep_url)


@needs_scepclient
def test_scepclient_enrols_with_a_one_time_password(
    general_lab: GeneralWorkflowLab, tmp_path: Path
) -> None:
    password = general_lab.otp()
    result = run_scepclient(general_lab.scep_url, tmp_path, cn="laptop-7", challenge=password)
    assert result.ok, result.describe()
    assert result.certificate is not None
    _check_chain(general_lab, result.certificate)
    cert = result.load_certificate()
    assert _cn(cert) == "laptop-7"
    assert cert.public_key() == load_private_key_pem(result.key_path.read_bytes()).public_key()
    assert _ekus(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}  # IntuneDeviceCert
    issued = [
        e
        for e in _requests(general_lab, disposition="20")
        if e["serialNumber"] == f"{cert.serial_number:x}"
    ]
    assert len(issued) == 1
    assert issued[0]["template"] == "IntuneDeviceCert"


@needs_scepclient
def test_a_password_buys_one_certificate(general_lab: GeneralWorkflowLab, tmp_path: Path) -> None:
    password = general_lab.otp()
    first = run_scepclient(general_lab.scep_url, tmp_path / "a", cn="laptop-8", challenge=password)
    assert first.ok, first.describe()
    before = len(_requests(general_lab))
    again = run_scepclient(general_lab.scep_url, tmp_path / "b", cn="laptop-9", challenge=password)
    assert not again.ok
    assert again.certificate is None
    assert "request failed, failInfo: badMessageCheck" in again.stdout + again.stderr
    assert len(_requests(general_lab)) == before  # nothing reached the CA


@needs_certmonger
def test_certmonger_enrols_with_a_one_time_password(
    general_lab: GeneralWorkflowLab, tmp_path: Path
) -> None:
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    with Certmonger(tmp_path / "cm") as cm:
        cm.add_scep_ca("ndes", general_lab.scep_url)
        request = cm.request(
            "ndes", key_path, cert_path, "CN=kiosk-3,O=Lab", general_lab.otp(), timeout=60
        )
        assert request.ok, f"{request.status} {request.ca_error}\n{cm.log()[-3000:]}"
    _check_chain(general_lab, cert_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert _cn(cert) == "kiosk-3"
    assert cert.public_key() == load_private_key_pem(key_path.read_bytes()).public_key()


def test_the_weakness_a_device_password_buys_an_administrator_certificate(
    general_lab: GeneralWorkflowLab,
) -> None:
    """The general workflow checks the password and only the password: one fetched for a
    laptop buys a certificate naming the domain administrator, for another purpose (the
    signature-only key usage selects the user template, which adds secure e-mail)."""
    password = general_lab.otp()  # the administrator fetched it for laptop-10
    key = _rsa()

    async def attack() -> driver.Exchange:
        ca = await _ca_info(general_lab)
        spec = CsrSpec(
            subject=_name("Administrator"),
            sans=(
                San("upn", "administrator@corp.example"),
                San("email", "administrator@corp.example"),
            ),
            key_usage=frozenset({"digital_signature"}),
            challenge_password=password,
        )
        async with httpx.AsyncClient(timeout=30) as client:
            return await driver.request(client, general_lab.scep_url, ca, key, spec)  # type: ignore[arg-type]

    cert = asyncio.run(attack()).certificate
    assert _cn(cert) == "Administrator"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.RFC822Name("administrator@corp.example") in sans
    upns = [
        n
        for n in sans
        if isinstance(n, x509.OtherName) and n.type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"
    ]
    assert len(upns) == 1
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in _ekus(cert)  # not what a laptop gets


def test_pending_until_approved_then_cert_poll_succeeds(general_lab: GeneralWorkflowLab) -> None:
    key = _rsa()
    subject = _name("printer-2")

    async def run() -> tuple[driver.Exchange, driver.Exchange, driver.Exchange]:
        ca = await _ca_info(general_lab)
        spec = CsrSpec(
            subject=subject,
            key_usage=frozenset({"key_encipherment"}),
            challenge_password=general_lab.otp(),
        )
        async with httpx.AsyncClient(timeout=30) as client:
            pending = await driver.request(client, general_lab.scep_url, ca, key, spec)  # type: ignore[arg-type]
            still = await driver.poll(client, general_lab.scep_url, ca, pending, subject)
            waiting = [
                e
                for e in _requests(general_lab, disposition="9")
                if e["transactionId"] == pending.transaction_id
            ]
            assert len(waiting) == 1
            approved = general_lab.ca("POST", f"/ca/requests/{waiting[0]['requestId']}/approve")
            assert approved.status_code == 200, approved.text
            done = await driver.poll(client, general_lab.scep_url, ca, pending, subject)
            return pending, still, done

    pending, still, done = asyncio.run(run())
    assert pending.result.status is scep.PkiStatus.PENDING
    assert still.result.status is scep.PkiStatus.PENDING
    assert done.certificate.public_key() == key.public_key()  # type: ignore[attr-defined]
    assert _cn(done.certificate) == "printer-2"


def test_cert_poll_for_an_unknown_transaction_is_bad_cert_id(
    general_lab: GeneralWorkflowLab,
) -> None:
    key = _rsa()

    async def run() -> driver.Exchange:
        ca = await _ca_info(general_lab)
        async with httpx.AsyncClient(timeout=30) as client:
            fake = driver.Exchange("no-such-transaction", *_signer(key), result=None)  # type: ignore[arg-type]
            return await driver.poll(client, general_lab.scep_url, ca, fake, _name("ghost"))

    reply = asyncio.run(run())
    assert reply.result.status is scep.PkiStatus.FAILURE
    assert reply.result.fail_info is scep.FailInfo.BAD_CERT_ID


def _signer(key: object) -> tuple[x509.Certificate, object]:
    import datetime as dt

    from shared.pki import build_self_signed_signer

    return build_self_signed_signer(key, _name("ghost"), dt.datetime.now(dt.UTC)), key  # type: ignore[arg-type]


@needs_scepclient
def test_scepclient_renews_with_a_renewal_req(
    general_lab: GeneralWorkflowLab, tmp_path: Path
) -> None:
    first = run_scepclient(
        general_lab.scep_url, tmp_path, cn="laptop-11", challenge=general_lab.otp()
    )
    assert first.ok, first.describe()
    old = first.load_certificate()
    renewed = run_scepclient(general_lab.scep_url, tmp_path, cn="laptop-11", challenge="")
    assert renewed.ok, renewed.describe()
    assert renewed.renewal
    new = renewed.load_certificate()
    assert new.serial_number != old.serial_number
    assert _cn(new) == "laptop-11"


def test_windows_style_renewal_is_a_pkcs_req_signed_by_the_old_certificate(
    general_lab: GeneralWorkflowLab,
) -> None:
    old_key, new_key = _rsa(), _rsa()
    subject = _name("desktop-4")

    async def run() -> tuple[x509.Certificate, x509.Certificate]:
        ca = await _ca_info(general_lab)
        async with httpx.AsyncClient(timeout=30) as client:
            first = await driver.request(
                client,
                general_lab.scep_url,
                ca,
                old_key,  # type: ignore[arg-type]
                CsrSpec(subject=subject, challenge_password=general_lab.otp()),
            )
            renewal = await driver.request(
                client,
                general_lab.scep_url,
                ca,
                new_key,  # type: ignore[arg-type]
                CsrSpec(subject=subject),  # no challenge: the old certificate vouches
                renew_with=(first.certificate, old_key),  # type: ignore[arg-type]
            )
            return first.certificate, renewal.certificate

    old, new = asyncio.run(run())
    assert new.public_key() == new_key.public_key()  # type: ignore[attr-defined]
    assert new.serial_number != old.serial_number


def test_a_revoked_serial_is_in_the_crl_and_ndes_does_not_serve_get_crl(
    general_lab: GeneralWorkflowLab,
) -> None:
    key = _rsa()

    async def run() -> tuple[x509.Certificate, driver.Exchange]:
        ca = await _ca_info(general_lab)
        async with httpx.AsyncClient(timeout=30) as client:
            issued = await driver.request(
                client,
                general_lab.scep_url,
                ca,
                key,  # type: ignore[arg-type]
                CsrSpec(subject=_name("stolen-laptop"), challenge_password=general_lab.otp()),
            )
            cert = issued.certificate
            revoked = general_lab.ca(
                "POST", "/ca/revoke", json={"serialNumber": f"{cert.serial_number:x}", "reason": 1}
            )
            assert revoked.status_code == 200 and revoked.json()["revoked"] is True, revoked.text
            get_crl = await driver.exchange(
                client,
                general_lab.scep_url,
                ca,
                scep.MessageType.GET_CRL,
                scep.IssuerAndSerial(cert.issuer, cert.serial_number),
                signer=cert,
                signer_key=key,  # type: ignore[arg-type]
            )
            return cert, get_crl

    cert, get_crl = asyncio.run(run())
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = cdp[0].full_name[0].value  # type: ignore[index]
    crl = x509.load_der_x509_crl(httpx.get(url, timeout=10).content)
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.key_compromise
    )
    # NDES does not implement GetCRL: a signed FAILURE badRequest (observed on WS2012)
    assert get_crl.result.status is scep.PkiStatus.FAILURE
    assert get_crl.result.fail_info is scep.FailInfo.BAD_REQUEST


@pytest.mark.parametrize(
    ("method", "query", "body", "status"),
    [
        ("GET", "operation=NoSuchThing", None, 404),
        ("GET", "", None, 200),  # NDES's information page: no Intune module installed
        ("POST", "operation=PKIOperation", b"\x30\x03\x02\x01\x01", 400),
        ("POST", "operation=PKIOperation", b"\x30" * 70_000, 413),
    ],
    ids=["unknown-operation", "bare-get", "malformed", "too-large"],
)
def test_http_errors_only_for_transport_problems(
    general_lab: GeneralWorkflowLab, method: str, query: str, body: bytes | None, status: int
) -> None:
    before = len(_requests(general_lab))
    response = httpx.request(method, f"{general_lab.scep_url}?{query}", content=body, timeout=30)
    assert response.status_code == status, response.text[:300]
    assert len(_requests(general_lab)) == before


def test_a_query_over_64_kb_is_414(general_lab: GeneralWorkflowLab) -> None:
    """httpx refuses to send such a URL, so the request line goes out over a raw socket."""
    import socket
    from urllib.parse import urlsplit

    before = len(_requests(general_lab))
    url = urlsplit(general_lab.scep_url)
    target = f"{url.path}?operation=PKIOperation&message={'A' * 70_000}"
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        status_line = sock.makefile("rb").readline().decode()
    assert status_line.split()[1] == "414", status_line
    assert len(_requests(general_lab)) == before
