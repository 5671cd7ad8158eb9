"""Key specs, random and derived keys, PEM round trips.

The golden digests below were produced by this implementation (`derive_key` v1, SHAKE-256 stream,
"intune-scep-lab/derive-key/v1" domain) when it was written; they pin derivation across runs and
versions. A change to them changes every lab PKI built from a seed: do it on purpose or not at all.
"""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.pki import (
    KeySpec,
    PrivateKey,
    derive_key,
    generate_key,
    key_size_of,
    key_spec_of,
    load_private_key_pem,
    private_key_pem,
)

GOLDEN_SEED = b"intune-scep-lab golden seed"
GOLDEN_SPKI_SHA256 = {
    KeySpec.rsa(1024): "fedcd666edf4c47fd13b9248e8bc7b08eb030242bde711cd32d14ac6e1ef6d53",
    KeySpec.rsa(2048): "b48738a66a14fd1a5459ca8f2635b2741451d9deb1d60a847253586e8bb4377f",
    KeySpec.ec("P-256"): "e8eec1949b86e54d1a99112342d36d38c5bb91f91c85ac6bba1ecd4e9689788c",
    KeySpec.ec("P-384"): "d7e548496aaa0dc31c8e08d9318f7c35d289458a49db67eb92a24926d007ec4c",
}


def spki_sha256(key: PrivateKey) -> str:
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def assert_pair_consistent(key: PrivateKey) -> None:
    message = b"key pair consistency"
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
        assert key.decrypt(key.public_key().encrypt(message, oaep), oaep) == message
    else:
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
        key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("spec", list(GOLDEN_SPKI_SHA256), ids=str)
def test_derive_key_matches_golden_vector(spec: KeySpec) -> None:
    key = derive_key(spec, GOLDEN_SEED, "golden")
    assert spki_sha256(key) == GOLDEN_SPKI_SHA256[spec]
    assert key_spec_of(key) == spec
    assert key_size_of(key.public_key()) == spec.size
    assert_pair_consistent(key)


@pytest.mark.parametrize("spec", [KeySpec.rsa(1024), KeySpec.ec()], ids=str)
def test_derive_key_same_inputs_same_key_other_inputs_other_key(spec: KeySpec) -> None:
    base = derive_key(spec, b"seed", "a")
    assert private_key_pem(derive_key(spec, b"seed", "a")) == private_key_pem(base)
    others = {
        spki_sha256(derive_key(spec, b"seed", "b")),
        spki_sha256(derive_key(spec, b"seed2", "a")),
        # length-prefixed inputs: moving a byte from seed to label is a different key
        spki_sha256(derive_key(spec, b"see", "da")),
    }
    assert spki_sha256(base) not in others
    assert len(others) == 3


def test_derived_rsa_key_is_well_formed() -> None:
    key = derive_key(KeySpec.rsa(2048), GOLDEN_SEED, "golden")
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.private_numbers()
    p, q, n = numbers.p, numbers.q, numbers.public_numbers.n
    assert p * q == n
    assert n.bit_length() == 2048
    assert p.bit_length() == q.bit_length() == 1024
    assert numbers.public_numbers.e == 65537
    assert numbers.dmp1 == numbers.d % (p - 1)
    assert numbers.dmq1 == numbers.d % (q - 1)
    assert (numbers.iqmp * q) % p == 1
    # an independent check of primes and CRT values: OpenSSL's RSA_check_key
    result = subprocess.run(
        ["openssl", "pkey", "-check", "-noout"],
        input=private_key_pem(key),
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("spec", [KeySpec.rsa(2048), KeySpec.ec("P-256")], ids=str)
def test_generate_key_and_pem_round_trip(spec: KeySpec) -> None:
    key = generate_key(spec)
    assert key_spec_of(key) == spec
    pem = private_key_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    loaded = load_private_key_pem(pem)
    assert loaded.public_key() == key.public_key()
    assert_pair_consistent(loaded)


def test_load_private_key_pem_refuses_other_key_types() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA or EC"):
        load_private_key_pem(pem)
    with pytest.raises(ValueError, match=r"Could not deserialize|Unable to load|PEM"):
        load_private_key_pem(b"not a key")


def test_key_spec_validation() -> None:
    assert KeySpec() == KeySpec.rsa(2048)
    assert KeySpec("ec", 256) == KeySpec.ec("P-256")
    assert KeySpec.ec("P-384").size == 384
    assert str(KeySpec.rsa(4096)) == "RSA-4096"
    assert str(KeySpec.ec()) == "EC-P-256"
    with pytest.raises(ValueError, match="RSA key size"):
        KeySpec.rsa(1000)
    with pytest.raises(ValueError, match="EC curve"):
        KeySpec("ec", 521)
    with pytest.raises(ValueError, match="no curve"):
        KeySpec("rsa", 2048, "P-256")
