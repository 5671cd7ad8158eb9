"""Golden vectors captured from the real clients (see tests/vectors/README.md) open with the codec
and say what the manifest recorded about them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared import scep
from shared.pki import inspect_csr

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
CIPHERS = {
    "des": scep.ContentCipher.DES_CBC,
    "tripledes_3key": scep.ContentCipher.DES_EDE3_CBC,
    "aes128_cbc": scep.ContentCipher.AES_128_CBC,
    "aes256_cbc": scep.ContentCipher.AES_256_CBC,
}


def _ra() -> tuple[x509.Certificate, object]:
    cert = x509.load_pem_x509_certificate((VECTORS / "ra-encrypt.crt.pem").read_bytes())
    key = serialization.load_pem_private_key((VECTORS / "ra-encrypt.key.pem").read_bytes(), None)
    return cert, key


@pytest.mark.parametrize("name", sorted(MANIFEST["vectors"]))
def test_vector_opens_as_recorded(name: str) -> None:
    recorded = MANIFEST["vectors"][name]
    expected = recorded["message"]
    cert, key = _ra()
    request = scep.open_request(
        (VECTORS / recorded["file"]).read_bytes(),
        certificate=cert,
        key=key,  # type: ignore[arg-type]
    )
    assert int(request.message_type) == int(expected["message_type"])
    assert request.transaction_id == expected["transaction_id"]
    assert len(request.message.sender_nonce) == expected["sender_nonce_len"]
    assert request.message.signing_time_present is expected["signing_time_present"]
    assert request.cipher is CIPHERS[expected["content_cipher"].split()[0]]
    csr = inspect_csr(request.csr_der)
    assert csr.subject_text == expected["csr_subject"]
    assert csr.signature_valid
    assert csr.challenge_password == MANIFEST["challenge"]


def test_a_vector_for_the_wrong_ra_is_a_decrypt_error() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .conftest import make_cert

    other_key = rsa.generate_private_key(65537, 2048)
    other = make_cert("Some Other RA", other_key)
    recorded = MANIFEST["vectors"]["certmonger-pkcsreq"]
    with pytest.raises(scep.DecryptError) as caught:
        scep.open_request(
            (VECTORS / recorded["file"]).read_bytes(), certificate=other, key=other_key
        )
    assert caught.value.context is not None
