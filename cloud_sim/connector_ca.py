"""The "Microsoft Intune ImportPFX Connector CA": the identity certificates of Certificate
Connectors, issued at sign-in and renewed by the connector itself; and the check the connector
API applies to every client certificate. Pure: no web framework, no database."""

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

CONNECTOR_PROFILE_EKUS = (ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string,)
MIN_RSA_BITS = 2048


class ConnectorCertificateRejected(Exception):
    """A certificate the connector API does not accept; the message says why (not secret)."""


@dataclass(frozen=True)
class ConnectorIdentity:
    connector_id: str
    serial_number: str  # hex
    thumbprint: str  # SHA-1 hex, upper case, as Windows shows it
    not_after: dt.datetime


def identity_of(cert: x509.Certificate) -> ConnectorIdentity:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return ConnectorIdentity(
        connector_id=str(cn[0].value) if cn else "",
        serial_number=f"{cert.serial_number:x}",
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),
        not_after=cert.not_valid_after_utc,
    )


def issue_connector_certificate(
    csr_der: bytes,
    connector_id: str,
    *,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    now: dt.datetime,
    validity: dt.timedelta,
) -> x509.Certificate:
    """`CN=<connector id>`, issued by the Connector CA, Client Authentication, for the CSR's key.
    Raises ValueError for a CSR that does not verify or a key that is too weak."""
    try:
        csr = inspect_csr(csr_der)
    except CsrError as exc:
        raise ValueError(f"the connector's CSR does not decode: {exc}") from exc
    if not csr.signature_valid:
        raise ValueError("the connector's CSR signature does not verify")
    key = csr.public_key
    if isinstance(key, rsa.RSAPublicKey) and key_size_of(key) < MIN_RSA_BITS:
        raise ValueError(f"the connector key must have at least {MIN_RSA_BITS} bits")
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("the connector key must be RSA or EC")
    profile = CertProfile(
        validity=validity,
        key_usage=frozenset({"digital_signature", "key_encipherment"}),
        ekus=CONNECTOR_PROFILE_EKUS,
    )
    return issue_certificate(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, connector_id)]),
        public_key=key,
        issuer_cert=ca_cert,
        issuer_key=ca_key,
        serial=new_serial(),
        not_before=now - dt.timedelta(minutes=5),
        profile=profile,
    )


def check_connector_certificate(
    cert: x509.Certificate, *, ca_cert: x509.Certificate, now: dt.datetime
) -> ConnectorIdentity:
    """Issued by the Connector CA, in date by the lab clock, for client authentication."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise ConnectorCertificateRejected("not issued by the Intune Connector CA") from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ConnectorCertificateRejected("the connector certificate is expired or not yet valid")
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise ConnectorCertificateRejected("no Client Authentication EKU") from exc
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise ConnectorCertificateRejected("no Client Authentication EKU")
    return identity_of(cert)
