"""Certificate revocation lists: building one, and knowing when it is due again.

A CRL carries a CRL number (one more each time it is made), the issuer's key identifier, and per
entry the serial, the revocation date and, unless it is unspecified, the reason code (RFC 5280
5.3.1 says not to write `unspecified`). A CRL is renewed once less than a third of its validity
is left, as AD CS publishes ahead of nextUpdate; the check is lazy (on download), by the
injected clock. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from shared.api.ca import RevocationReason
from shared.pki import PrivateKey
from shared.pki.signing import ecdsa_deterministic_for, rsa_padding_for

_REASON_FLAGS: dict[RevocationReason, x509.ReasonFlags] = {
    RevocationReason.KEY_COMPROMISE: x509.ReasonFlags.key_compromise,
    RevocationReason.CA_COMPROMISE: x509.ReasonFlags.ca_compromise,
    RevocationReason.AFFILIATION_CHANGED: x509.ReasonFlags.affiliation_changed,
    RevocationReason.SUPERSEDED: x509.ReasonFlags.superseded,
    RevocationReason.CESSATION_OF_OPERATION: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.CERTIFICATE_HOLD: x509.ReasonFlags.certificate_hold,
    RevocationReason.REMOVE_FROM_CRL: x509.ReasonFlags.remove_from_crl,
}


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: RevocationReason


@dataclass(frozen=True)
class CrlInfo:
    """A CRL as the CA keeps it: its number, its window and its DER."""

    number: int
    this_update: datetime
    next_update: datetime
    der: bytes


def build_crl(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: PrivateKey,
    entries: Iterable[RevokedEntry],
    number: int,
    now: datetime,
    validity: timedelta,
) -> CrlInfo:
    """A CRL signed by `issuer_key` (SHA-256), valid from `now` for `validity`."""
    next_update = now + validity
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(now)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_identifier(issuer_cert), critical=False)
    )
    for entry in sorted(entries, key=lambda e: e.serial):
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        flag = _REASON_FLAGS.get(entry.reason)
        if flag is not None:
            revoked = revoked.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    crl = builder.sign(
        issuer_key,
        hashes.SHA256(),
        rsa_padding=rsa_padding_for(issuer_key),
        ecdsa_deterministic=ecdsa_deterministic_for(issuer_key),
    )
    return CrlInfo(number, now, next_update, crl.public_bytes(Encoding.DER))


def is_due(crl: CrlInfo | None, now: datetime) -> bool:
    """True when there is no CRL yet, or less than a third of its validity is left."""
    if crl is None:
        return True
    remaining = crl.next_update - now
    return remaining * 3 < crl.next_update - crl.this_update


def _authority_key_identifier(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        public_key = issuer_cert.public_key()
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
