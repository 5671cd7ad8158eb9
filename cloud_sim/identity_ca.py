"""The cloud's two identity CAs: the "Microsoft Intune ImportPFX Connector CA" (Certificate
Connectors, issued at sign-in, renewed by the connector) and the "Microsoft Intune MDM Device CA"
(managed devices, issued at MDM enrolment). Both issue `CN=<id>` client-authentication
certificates, and the mutual-TLS APIs check every client certificate the same way.
Pure: no web framework, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.pki import (
    CertProfile,
    CsrError,
    PrivateKey,
    inspect_csr,
    issue_certificate,
    key_size_of,
    new_serial,
)

CLIENT_AUTH_EKUS = (ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string,)
MIN_RSA_BITS = 2048


class CertificateRejected(Exception):
    """A client certificate an API does not accept; the message says why (not secret)."""


@dataclass(frozen=True)
class ClientIdentity:
    id: str  # the CN: a connector id or an Intune device id
    serial_number: str  # hex
    thumbprint: str  # SHA-1 hex, upper case, as Windows shows it
    not_after: dt.datetime


def identity_of(cert: x509.Certificate) -> ClientIdentity:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ClientIdentity(
        id=str(cn[0].value) if cn else "",
        serial_number=f"{cert.serial_number:x}",
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),
        not_after=cert.not_valid_after_utc,
    )


def issue_client_certificate(
    csr_der: bytes,
    common_name: str,
    *,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    now: dt.datetime,
    validity: dt.timedelta,
) -> x509.Certificate:
    """`CN=<common_name>`, issued by `ca_cert`, Client Authentication, for the CSR's key.
    Raises ValueError for a CSR that does not verify or a key that is too weak."""
    try:
        csr = inspect_csr(csr_der)
    except CsrError as exc:
        raise ValueError(f"the CSR does not decode: {exc}") from exc
    if not csr.signature_valid:
        raise ValueError("the CSR signature does not verify")
    key = csr.public_key
    if isinstance(key, rsa.RSAPublicKey) and key_size_of(key) < MIN_RSA_BITS:
        raise ValueError(f"the key must have at least {MIN_RSA_BITS} bits")
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("the key must be RSA or EC")
    profile = CertProfile(
        validity=validity,
        key_usage=frozenset({"digital_signature", "key_encipherment"}),
        ekus=CLIENT_AUTH_EKUS,
    )
    return issue_certificate(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
        public_key=key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        serial=new_serial(),
        not_before=now - dt.timedelta(minutes=5),
        profile=profile,
    )


def check_client_certificate(
    cert: x509.Certificate, *, ca_cert: x509.Certificate, now: dt.datetime
) -> ClientIdentity:
    """Issued by `ca_cert`, in date by the lab clock, for client authentication."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateRejected(
            f"not issued by the {ca_cert.subject.rfc4514_string().removeprefix('CN=')}"
        ) from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateRejected("the client certificate is expired or not yet valid")
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CertificateRejected("no Client Authentication EKU") from exc
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise CertificateRejected("no Client Authentication EKU")
    return identity_of(cert)
