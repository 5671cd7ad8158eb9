"""Issuing certificates: a `CertProfile` (what a template puts in), serials, and fingerprints.

`issue_certificate` always adds SubjectKeyIdentifier and AuthorityKeyIdentifier, and AIA caIssuers
and CRL distribution points when the profile names URLs. Like AD CS, it never lets a certificate
outlive its issuer: notAfter is capped at the issuer's notAfter.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID

from .keys import PrivateKey, PublicKey
from .sans import San, build_subject_alternative_name
from .signing import (
    DEFAULT_HASH,
    check_signature_hash,
    ecdsa_deterministic_for,
    rsa_padding_for,
)
from .usage import KeyUsageName, build_extended_key_usage, build_key_usage

SERIAL_BITS = 159  # positive and at most 20 octets in DER (RFC 5280 4.1.2.2)
SIGNER_VALIDITY = timedelta(days=365)


@dataclass(frozen=True)
class CertProfile:
    """What an issued certificate carries besides subject, key and serial: a template, in AD CS."""

    validity: timedelta
    key_usage: frozenset[KeyUsageName] | None = None
    ekus: tuple[str, ...] = ()
    is_ca: bool = False
    path_length: int | None = None
    aia_urls: tuple[str, ...] = ()  # caIssuers
    cdp_urls: tuple[str, ...] = ()  # CRL distribution points
    fixed_subject: x509.Name | None = None  # None: the subject comes from the request

    def __post_init__(self) -> None:
        object.__setattr__(self, "ekus", tuple(str(oid) for oid in self.ekus))
        object.__setattr__(self, "aia_urls", tuple(self.aia_urls))
        object.__setattr__(self, "cdp_urls", tuple(self.cdp_urls))
        if self.key_usage is not None:
            object.__setattr__(self, "key_usage", frozenset(self.key_usage))
            build_key_usage(self.key_usage)
        if self.validity <= timedelta(0):
            raise ValueError(f"validity must be positive, not {self.validity}")
        if self.path_length is not None and (not self.is_ca or self.path_length < 0):
            raise ValueError("path_length needs is_ca=True and must be >= 0")


def issue_certificate(
    *,
    subject: x509.Name,
    public_key: PublicKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: PrivateKey,
    serial: int,
    not_before: datetime,
    profile: CertProfile,
    sans: Iterable[San | tuple[str, str]] = (),
    hash: hashes.HashAlgorithm = DEFAULT_HASH,
) -> x509.Certificate:
    """A certificate for `public_key` signed by `issuer_key`; self-signed if `issuer_cert` is None.

    Deterministic for RSA and EC issuers (PKCS#1 v1.5, RFC 6979): same inputs, same bytes.
    """
    if not_before.tzinfo is None:
        raise ValueError("not_before must be timezone-aware")
    if not 0 < serial < 1 << SERIAL_BITS:
        raise ValueError(f"serial must be positive and below 2^{SERIAL_BITS}")
    subject = profile.fixed_subject if profile.fixed_subject is not None else subject
    not_after = not_before + profile.validity
    if issuer_cert is None:
        if issuer_key.public_key() != public_key:
            raise ValueError("a self-signed certificate must be signed by its own key")
        issuer_name = subject
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    else:
        if issuer_cert.public_key() != issuer_key.public_key():
            raise ValueError("issuer_key does not match issuer_cert")
        issuer_name = issuer_cert.subject
        aki = _authority_key_identifier(issuer_cert, issuer_key.public_key())
        not_after = min(not_after, issuer_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if profile.is_ca:
        constraints = x509.BasicConstraints(ca=True, path_length=profile.path_length)
        builder = builder.add_extension(constraints, critical=True)
    if profile.key_usage is not None:
        builder = builder.add_extension(build_key_usage(profile.key_usage), critical=True)
    if profile.ekus:
        builder = builder.add_extension(build_extended_key_usage(profile.ekus), critical=False)
    san_list = list(sans)
    if san_list:
        san_ext = build_subject_alternative_name(san_list)
        builder = builder.add_extension(san_ext, critical=len(subject) == 0)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = builder.add_extension(ski, critical=False).add_extension(aki, critical=False)
    if profile.aia_urls:
        aia = x509.AuthorityInformationAccess(
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url)
            )
            for url in profile.aia_urls
        )
        builder = builder.add_extension(aia, critical=False)
    if profile.cdp_urls:
        cdp = x509.CRLDistributionPoints(
            x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
            for url in profile.cdp_urls
        )
        builder = builder.add_extension(cdp, critical=False)
    return builder.sign(
        issuer_key,
        check_signature_hash(hash),
        rsa_padding=rsa_padding_for(issuer_key),
        ecdsa_deterministic=ecdsa_deterministic_for(issuer_key),
    )


def build_self_signed_signer(
    key: PrivateKey,
    subject: x509.Name,
    not_before: datetime,
    hash: hashes.HashAlgorithm = DEFAULT_HASH,
    *,
    serial: int | None = None,
) -> x509.Certificate:
    """The throwaway self-signed certificate a SCEP client signs its PKCSReq with (RFC 8894 2.3).

    One year, digitalSignature and keyEncipherment, no CA bit, like micromdm's scepclient.
    """
    profile = CertProfile(
        validity=SIGNER_VALIDITY,
        key_usage=frozenset({"digital_signature", "key_encipherment"}),
    )
    return issue_certificate(
        subject=subject,
        public_key=key.public_key(),
        issuer_cert=None,
        issuer_key=key,
        serial=new_serial() if serial is None else serial,
        not_before=not_before,
        profile=profile,
        hash=hash,
    )


def new_serial() -> int:
    """A random positive serial of exactly 159 bits (so 20 octets in DER)."""
    return secrets.randbits(SERIAL_BITS - 1) | (1 << (SERIAL_BITS - 1))


def serial_from(seed: bytes, label: str) -> int:
    """A 159-bit serial derived from `seed` and `label`: deterministic, for reproducible PKIs."""
    parts = (b"intune-scep-lab/serial/v1", seed, label.encode())
    digest = hashlib.sha256(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).digest()
    return (int.from_bytes(digest, "big") >> (256 - SERIAL_BITS)) | (1 << (SERIAL_BITS - 1))


def fingerprint(cert: x509.Certificate, hash: hashes.HashAlgorithm = DEFAULT_HASH) -> str:
    """The certificate's thumbprint as upper-case hex, no separators (SHA-1 is Windows' own;
    NDES's admin page shows the CA's MD5 thumbprint)."""
    return cert.fingerprint(hash).hex().upper()


def _authority_key_identifier(
    issuer_cert: x509.Certificate, issuer_public_key: PublicKey
) -> x509.AuthorityKeyIdentifier:
    """The issuer's own SKI when it has one (what verifiers match on), else one from its key."""
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
