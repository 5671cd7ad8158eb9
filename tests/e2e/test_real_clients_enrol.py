"""Real SCEP clients accept what the codec builds: micromdm's scepclient and certmonger enrol
against a minimal server made of the codec and a test CA, and `openssl verify` accepts what they
saved against the chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.pki import load_private_key_pem
from tests.support.clients import (
    Certmonger,
    have_certmonger,
    have_scepclient,
    openssl_verify,
    run_scepclient,
)
from tests.support.minimal_server import MinimalScepServer
from tests.support.recorder import ScepRecorder
from tests.support.testpki import make_ra_setup

pytestmark = pytest.mark.e2e

CHALLENGE = "8CE317021F690069"
NDES_CAPS = ("POSTPKIOperation", "Renewal", "SHA-512", "SHA-256", "SHA-1", "DES3", "AES")
needs_scepclient = pytest.mark.skipif(not have_scepclient(), reason="scepclient not installed")
needs_certmonger = pytest.mark.skipif(not have_certmonger(), reason="certmonger not installed")


@pytest.fixture(scope="module")
def server() -> MinimalScepServer:
    return MinimalScepServer(make_ra_setup(), CHALLENGE)


def _recorder(server: MinimalScepServer, caps: tuple[str, ...]) -> ScepRecorder:
    return ScepRecorder(
        server.ra.getcacert_chain, caps, keep_cert_order=True, pki_responder=server.respond
    )


def _check_issued(cert_path: Path, key_path: Path, server: MinimalScepServer, cn: str) -> None:
    ca = tmp = cert_path.parent / "ca.pem"
    tmp.write_bytes(server.ca_pem())
    ok, output = openssl_verify(cert_path, [ca])
    assert ok, output
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = load_private_key_pem(key_path.read_bytes())
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == cn
    assert cert in server.issued


@needs_scepclient
@pytest.mark.parametrize(
    ("caps", "method"),
    [(NDES_CAPS, "POST"), (("SHA-256", "SHA-1", "DES3", "AES"), "GET")],
    ids=["post", "get-urlsafe-base64"],
)
def test_scepclient_enrols(
    server: MinimalScepServer, tmp_path: Path, caps: tuple[str, ...], method: str
) -> None:
    with _recorder(server, caps) as rec:
        result = run_scepclient(rec.url, tmp_path, cn="device-sc", challenge=CHALLENGE)
        assert result.ok, result.describe()
        assert [r.method for r in rec.pki_operations] == [method]
    assert result.certificate is not None
    _check_issued(result.certificate, result.key_path, server, "device-sc")


@needs_scepclient
def test_scepclient_renews_with_a_renewal_req(server: MinimalScepServer, tmp_path: Path) -> None:
    with _recorder(server, NDES_CAPS) as rec:
        first = run_scepclient(rec.url, tmp_path, cn="device-renew", challenge=CHALLENGE)
        assert first.ok, first.describe()
        old = first.load_certificate()
        again = run_scepclient(rec.url, tmp_path, cn="device-renew", challenge=CHALLENGE)
        assert again.ok, again.describe()
        assert again.renewal
    new = again.load_certificate()
    assert new.serial_number != old.serial_number
    assert new in server.issued


@needs_scepclient
def test_scepclient_reads_a_failure(server: MinimalScepServer, tmp_path: Path) -> None:
    before = len(server.issued)
    with _recorder(server, NDES_CAPS) as rec:
        result = run_scepclient(rec.url, tmp_path, cn="intruder", challenge="WRONG", timeout=30)
        assert len(rec.pki_operations) == 1
    assert not result.ok
    assert result.certificate is None
    assert len(server.issued) == before
    assert "FAILURE BAD_REQUEST: wrong challenge password" in server.replies
    # scepclient verified our signed FAILURE (NDES shape) and reports the failInfo it carried
    assert "request failed, failInfo: badRequest (2)" in result.stdout + result.stderr


@needs_certmonger
@pytest.mark.parametrize(
    "caps",
    [("POSTPKIOperation", "AES", "SHA-256", "SHA-1"), NDES_CAPS],
    ids=["aes256", "des3-first"],
)
def test_certmonger_enrols(
    server: MinimalScepServer, tmp_path: Path, caps: tuple[str, ...]
) -> None:
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.pem"
    with _recorder(server, caps) as rec, Certmonger(tmp_path / "cm") as cm:
        cm.add_scep_ca("lab", rec.url)
        request = cm.request(
            "lab", key_path, cert_path, "CN=device-cm,O=intune-scep-lab", CHALLENGE, timeout=60
        )
        assert request.ok, f"{request.status} {request.ca_error}\n{cm.log()[-3000:]}"
        assert all(r.method == "GET" for r in rec.pki_operations)  # certmonger always GETs
    _check_issued(cert_path, key_path, server, "device-cm")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.public_bytes(serialization.Encoding.DER) == server.issued[-1].public_bytes(
        serialization.Encoding.DER
    )
