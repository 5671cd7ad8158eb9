"""OpenSSL agrees with the codec: it verifies, decrypts and lists what we build, and we open
what it builds (including single DES, which only the legacy provider still makes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared import scep
from shared.scep import ContentCipher, Digest, MessageType, envelope

from .conftest import Setup

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def openssl(*args: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *args], input=data, capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.mark.parametrize(
    "cipher", [ContentCipher.AES_128_CBC, ContentCipher.AES_256_CBC, ContentCipher.DES_EDE3_CBC]
)
@pytest.mark.parametrize("digest", list(Digest))
def test_openssl_verifies_and_decrypts_a_request(
    setup: Setup, tmp_path: Path, cipher: ContentCipher, digest: Digest
) -> None:
    der = scep.build_request(
        MessageType.PKCS_REQ,
        setup.csr_der,
        signer=setup.device.cert,
        key=setup.device.key,
        recipients=[setup.ra_encrypt.cert],
        transaction_id="t",
        cipher=cipher,
        digest=digest,
    )
    (tmp_path / "req.der").write_bytes(der)
    enveloped = openssl(
        "cms", "-verify", "-noverify", "-inform", "DER", "-binary", "-in", str(tmp_path / "req.der")
    )
    (tmp_path / "env.der").write_bytes(enveloped)
    cert, key = setup.ra_encrypt.pem_files(tmp_path)
    csr = openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-binary",
        "-in",
        str(tmp_path / "env.der"),
        "-inkey",
        key,
        "-recip",
        cert,
    )
    assert csr == setup.csr_der


def test_openssl_reads_a_cert_rep_success(setup: Setup, tmp_path: Path) -> None:
    issued = setup.issue(setup.device.cert.subject)
    ctx = scep.ReplyContext(scep.TransactionId("t"), b"n" * 16, Digest.SHA256, setup.device.cert)
    der = scep.build_success(
        ctx,
        certificates=[issued, setup.ca.cert],
        ra_cert=setup.ra_sign.cert,
        ra_key=setup.ra_sign.key,
        cipher=ContentCipher.AES_256_CBC,
    )
    (tmp_path / "rep.der").write_bytes(der)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(setup.ca.cert.public_bytes(serialization.Encoding.PEM))
    # full chain verification of the RA signer, not just -noverify
    enveloped = openssl(
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-binary",
        "-in",
        str(tmp_path / "rep.der"),
        "-CAfile",
        str(ca_pem),
        "-purpose",
        "any",
    )
    (tmp_path / "env.der").write_bytes(enveloped)
    cert, key = setup.device.pem_files(tmp_path)
    degenerate = openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-binary",
        "-in",
        str(tmp_path / "env.der"),
        "-inkey",
        key,
        "-recip",
        cert,
    )
    (tmp_path / "certs.der").write_bytes(degenerate)
    listing = openssl(
        "pkcs7", "-inform", "DER", "-in", str(tmp_path / "certs.der"), "-print_certs"
    ).decode()
    pems = [x509.load_pem_x509_certificate(b) for b in _pem_blocks(listing)]
    assert pems == [issued, setup.ca.cert]


def test_openssl_lists_get_ca_cert_in_order(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "ca.p7").write_bytes(scep.build_certs_only(setup.ca_ra))
    listing = openssl(
        "pkcs7", "-inform", "DER", "-in", str(tmp_path / "ca.p7"), "-print_certs"
    ).decode()
    assert [x509.load_pem_x509_certificate(b) for b in _pem_blocks(listing)] == setup.ca_ra


def test_openssl_verifies_a_failure(setup: Setup, tmp_path: Path) -> None:
    ctx = scep.ReplyContext(scep.TransactionId("t"), b"n" * 16, Digest.SHA1, None)
    der = scep.build_failure(
        ctx,
        scep.FailInfo.BAD_REQUEST,
        ra_cert=setup.ra_sign.cert,
        ra_key=setup.ra_sign.key,
        hresult=0x80070057,
    )
    (tmp_path / "fail.der").write_bytes(der)
    ra_pem = tmp_path / "ra.pem"
    ra_pem.write_bytes(setup.ra_sign.cert.public_bytes(serialization.Encoding.PEM))
    content = openssl(
        "cms",
        "-verify",
        "-noverify",
        "-inform",
        "DER",
        "-binary",
        "-in",
        str(tmp_path / "fail.der"),
        "-certfile",
        str(ra_pem),
    )
    assert content == b"\x00"  # NDES's one-byte eContent
    printed = openssl(
        "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(tmp_path / "fail.der")
    ).decode()
    assert "1.3.6.1.4.1.311.21.33" in printed and "-2147024809" in printed


@pytest.mark.parametrize(
    ("flag", "cipher"),
    [
        ("-des", ContentCipher.DES_CBC),
        ("-des3", ContentCipher.DES_EDE3_CBC),
        ("-aes128", ContentCipher.AES_128_CBC),
        ("-aes256", ContentCipher.AES_256_CBC),
    ],
)
def test_we_open_what_openssl_encrypts(
    setup: Setup, tmp_path: Path, flag: str, cipher: ContentCipher
) -> None:
    cert, _ = setup.ra_encrypt.pem_files(tmp_path)
    (tmp_path / "csr.der").write_bytes(setup.csr_der)
    providers = (
        ["-provider", "legacy", "-provider", "default"] if cipher is ContentCipher.DES_CBC else []
    )
    der = openssl(
        "cms",
        "-encrypt",
        "-binary",
        "-outform",
        "DER",
        flag,
        *providers,
        "-in",
        str(tmp_path / "csr.der"),
        cert,
    )
    opened = envelope.decrypt(der, certificate=setup.ra_encrypt.cert, key=setup.ra_encrypt.key)
    assert opened.content == setup.csr_der
    assert opened.cipher is cipher


def _pem_blocks(text: str) -> list[bytes]:
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("-----BEGIN"):
            current = [line]
        elif line.startswith("-----END"):
            current.append(line)
            blocks.append("\n".join(current).encode())
            current = []
        elif current:
            current.append(line)
    return blocks
