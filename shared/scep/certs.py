"""Degenerate certs-only PKCS#7 (GetCACert, CertRep payloads) and GetCACaps text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from . import signed
from .errors import DecodeError
from .types import Capability, Digest

CA_RA_CERT = "application/x-x509-ca-ra-cert"
CA_CERT = "application/x-x509-ca-cert"
NEXT_CA_CERT = "application/x-x509-next-ca-cert"
PKI_MESSAGE = "application/x-pki-message"


def build_certs_only(certificates: Sequence[x509.Certificate], crls: Sequence[bytes] = ()) -> bytes:
    """ContentInfo(SignedData) with no signers and no content: only certificates (in the order
    given) and CRLs (DER). Assembled directly, as `signed.sign` does."""
    body = b"\x02\x01\x01\x31\x00" + signed.tlv(0x30, signed.der_of("ctype", "data"))
    if certificates:
        body += signed.certificates_field(certificates)
    if crls:
        body += signed.tlv(0xA1, b"".join(sorted(crls)))  # a DER SET OF: sorted
    body += b"\x31\x00"
    return signed.tlv(
        0x30, signed.der_of("ctype", "signed_data") + signed.tlv(0xA0, signed.tlv(0x30, body))
    )


def parse_certs_only(der: bytes) -> tuple[tuple[x509.Certificate, ...], tuple[bytes, ...]]:
    """Certificates (in order) and CRLs (DER) of a degenerate SignedData."""
    data = signed.load_signed_data(der)
    try:
        certs = tuple(
            signed.from_asn1_cert(c.chosen)
            for c in (data["certificates"] or [])
            if c.name == "certificate"
        )
        crls = tuple(bytes(c.chosen.dump()) for c in (data["crls"] or []))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DecodeError(f"malformed certs-only SignedData: {exc}") from exc
    return certs, crls


def build_next_ca_cert(
    rollover: Sequence[x509.Certificate],
    *,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    digest: Digest = Digest.SHA256,
) -> bytes:
    """GetNextCACert: a SignedData by the current CA over a degenerate one with the new certs."""
    return signed.sign(
        build_certs_only(rollover),
        (),
        signer=ca_cert,
        key=ca_key,
        digest=digest,
        certificates=[ca_cert],
    )


def build_caps(capabilities: Iterable[Capability | str]) -> str:
    """GetCACaps body: one keyword a line, CRLF separated, in the exact case given."""
    return "".join(f"{c}\r\n" for c in capabilities)


def parse_caps(text: str) -> frozenset[Capability]:
    """Keywords from a GetCACaps body: case-insensitive, any separator, unknown words ignored."""
    by_fold = {c.value.casefold(): c for c in Capability}
    return frozenset(by_fold[w.casefold()] for w in text.split() if w.casefold() in by_fold)


def encryption_recipient(certificates: Sequence[x509.Certificate]) -> x509.Certificate:
    """Whom a client encrypts its request to, of the GetCACert certificates: the one for key
    encipherment that is not a CA (NDES's CEP Encryption certificate), else the first (a CA that
    is its own RA)."""
    for cert in certificates:
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if usage.key_encipherment and not usage.key_cert_sign:
            return cert
    return certificates[0]
