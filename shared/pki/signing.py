"""Which hashes and paddings the toolkit signs X.509 objects with.

RSA signs with PKCS#1 v1.5 and EC with deterministic ECDSA (RFC 6979), so that the same key and
input always give the same bytes. cryptography 50 refuses SHA-1 (and MD5) for X.509 signatures.
"""

from __future__ import annotations

from typing import TypeAlias

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .keys import PrivateKey

SignatureHash: TypeAlias = (
    hashes.SHA224
    | hashes.SHA256
    | hashes.SHA384
    | hashes.SHA512
    | hashes.SHA3_224
    | hashes.SHA3_256
    | hashes.SHA3_384
    | hashes.SHA3_512
)
DEFAULT_HASH: hashes.HashAlgorithm = hashes.SHA256()

_ALLOWED = (
    hashes.SHA224,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
    hashes.SHA3_224,
    hashes.SHA3_256,
    hashes.SHA3_384,
    hashes.SHA3_512,
)


def check_signature_hash(hash: hashes.HashAlgorithm) -> SignatureHash:
    """`hash` itself if X.509 signatures can use it; ValueError otherwise."""
    if not isinstance(hash, _ALLOWED):
        raise ValueError(f"cannot sign certificates or CSRs with {hash.name}; use SHA-2 or SHA-3")
    return hash


def rsa_padding_for(key: PrivateKey) -> padding.PKCS1v15 | None:
    return padding.PKCS1v15() if isinstance(key, rsa.RSAPrivateKey) else None


def ecdsa_deterministic_for(key: PrivateKey) -> bool | None:
    return None if isinstance(key, rsa.RSAPrivateKey) else True
