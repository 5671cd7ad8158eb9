"""CMS SignedData with signed attributes: sign and verify (RFC 5652 §5), the way SCEP uses it.

Pure: DER in, values out. RSA signers only (SCEP's key transport needs RSA anyway); the
signature algorithm may be written as `rsaEncryption` or `shaXWithRSAEncryption`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from asn1crypto import algos, cms, core, parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import asn1
from .errors import DecodeError, SignatureError, UnsupportedAlgorithm
from .types import Digest

SignatureStyle = Literal["rsa", "sha_rsa"]
SignerId = Literal["issuer_and_serial", "subject_key_identifier"]

_HASHES: dict[Digest, type[hashes.HashAlgorithm]] = {
    Digest.SHA1: hashes.SHA1,
    Digest.SHA256: hashes.SHA256,
    Digest.SHA512: hashes.SHA512,
}
_SIGNATURE_NAMES = {
    "rsassa_pkcs1v15",
    "sha1_rsa",
    "sha256_rsa",
    "sha512_rsa",
    "sha224_rsa",
    "sha384_rsa",
}


def hash_of(digest: Digest) -> hashes.HashAlgorithm:
    return _HASHES[digest]()


def digest_bytes(digest: Digest, data: bytes) -> bytes:
    h = hashes.Hash(hash_of(digest))
    h.update(data)
    return h.finalize()


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def from_asn1_cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    """A certificate of a SignedData. A serial number that is not positive is refused here
    (RFC 5280 forbids it; cryptography warns now and will refuse it in a later release)."""
    try:
        serial = cert["tbs_certificate"]["serial_number"].native
        if serial <= 0:
            raise DecodeError(f"certificate in SignedData has a serial number of {serial}")
        return x509.load_der_x509_certificate(cert.dump())
    except (ValueError, TypeError, KeyError, x509.InvalidVersion) as exc:
        raise DecodeError(f"certificate in SignedData does not parse: {exc}") from exc


@dataclass(frozen=True)
class VerifiedSignedData:
    """A SignedData whose single signer verified; attributes keyed by asn1crypto name."""

    content: bytes | None
    content_type: str
    signer: x509.Certificate
    digest: Digest
    attributes: dict[str, cms.CMSAttribute]
    certificates: tuple[x509.Certificate, ...]


def tlv(tag: int, body: bytes) -> bytes:
    """One DER element: tag, definite length, body."""
    return bytes([tag]) + der_length(len(body)) + body


ConstantKind = Literal["attr", "ctype", "digest_alg", "sig_alg"]


@functools.cache
def der_of(kind: ConstantKind, name: str) -> bytes:
    """DER of a constant (OID or AlgorithmIdentifier), produced once by asn1crypto and cached."""
    if kind == "attr":
        return bytes(cms.CMSAttributeType(name).dump())
    if kind == "ctype":
        return bytes(cms.ContentType(name).dump())
    if kind == "digest_alg":
        return bytes(algos.DigestAlgorithm({"algorithm": name}).dump())
    return bytes(algos.SignedDigestAlgorithm({"algorithm": name}).dump())


@functools.lru_cache(maxsize=256)
def issuer_and_serial(cert: x509.Certificate) -> tuple[bytes, bytes, int]:
    """(issuer Name DER, serialNumber INTEGER TLV, serial) sliced from the certificate's own TBS."""
    _, _, _, _, tbs, _ = parser.parse(cert.tbs_certificate_bytes)
    pieces: list[tuple[int, int, bytes]] = []
    rest = tbs
    while rest and len(pieces) < 5:
        class_, _, tag, header, body, trailer = parser.parse(rest)
        size = len(header) + len(body) + len(trailer)
        pieces.append((class_, tag, rest[:size]))
        rest = rest[size:]
    if pieces[0][:2] == (2, 0):  # [0] EXPLICIT version
        pieces = pieces[1:]
    return pieces[2][2], pieces[0][2], cert.serial_number


def sign(
    content: bytes | None,
    attributes: Iterable[tuple[str, core.Asn1Value]],
    *,
    signer: x509.Certificate,
    key: rsa.RSAPrivateKey,
    digest: Digest,
    certificates: Sequence[x509.Certificate] = (),
    signature_style: SignatureStyle = "sha_rsa",
    signer_id: SignerId = "issuer_and_serial",
    content_type: str = "data",
) -> bytes:
    """Build ContentInfo(SignedData) over `content` with contentType, messageDigest and extras.

    `content=None` leaves eContent out (RFC 8894's FAILURE and PENDING); the digest is then
    that of the empty string.

    The DER is assembled directly (constants from asn1crypto, cached): building the nested
    asn1crypto objects from dicts re-serializes every subtree several times.
    """
    asn1.register()
    attrs = [
        tlv(0x30, der_of("attr", "content_type") + tlv(0x31, der_of("ctype", content_type))),
        tlv(
            0x30,
            der_of("attr", "message_digest")
            + tlv(0x31, tlv(0x04, digest_bytes(digest, content or b""))),
        ),
    ]
    attrs += [
        tlv(0x30, der_of("attr", name) + tlv(0x31, bytes(value.dump())))
        for name, value in attributes
    ]
    attrs_body = b"".join(sorted(attrs))  # DER SET OF order, as asn1crypto sorts
    to_sign = tlv(0x31, attrs_body)
    signature = key.sign(to_sign, padding.PKCS1v15(), hash_of(digest))

    if signer_id == "subject_key_identifier":
        ski = to_asn1_cert(signer).key_identifier
        if ski is None:
            raise ValueError("signer certificate has no subjectKeyIdentifier")
        sid = tlv(0x80, ski)
        version = b"\x02\x01\x03"
    else:
        issuer_der, serial_tlv, _ = issuer_and_serial(signer)
        sid = tlv(0x30, issuer_der + serial_tlv)
        version = b"\x02\x01\x01"
    sig_alg = "rsassa_pkcs1v15" if signature_style == "rsa" else f"{digest.value}_rsa"
    digest_alg = der_of("digest_alg", digest.value)
    signer_info = tlv(
        0x30,
        version
        + sid
        + digest_alg
        + tlv(0xA0, attrs_body)
        + der_of("sig_alg", sig_alg)
        + tlv(0x04, signature),
    )
    encap = der_of("ctype", content_type)
    if content is not None:
        encap += tlv(0xA0, tlv(0x04, content))
    body = version + tlv(0x31, digest_alg) + tlv(0x30, encap)
    if certificates:
        body += certificates_field(certificates)
    body += tlv(0x31, signer_info)
    return tlv(0x30, der_of("ctype", "signed_data") + tlv(0xA0, tlv(0x30, body)))


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def certificates_field(certificates: Sequence[x509.Certificate]) -> bytes:
    """SignedData's `certificates [0] IMPLICIT CertificateSet`, in the order given.

    DER would sort a SET OF, but SCEP clients read order into it: the issued certificate must come
    first in a CertRep, and GetCACert lists RA signing, RA encryption, then the CA chain. Like
    OpenSSL and every SCEP server, we keep insertion order.
    """
    return tlv(0xA0, b"".join(c.public_bytes(serialization.Encoding.DER) for c in certificates))


def load_signed_data(der: bytes) -> cms.SignedData:
    """ContentInfo → SignedData, with every decoding problem as DecodeError."""
    asn1.register()
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise DecodeError(f"expected signedData, got {info['content_type'].native}")
        signed = info["content"]
        signed["signer_infos"]  # parse the outer structure now
    except DecodeError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"not a DER CMS SignedData: {exc}") from exc
    return signed


def _find_signer(
    sid: cms.SignerIdentifier, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        serial = ias["serial_number"].native
        issuer = ias["issuer"]
        issuer_der = issuer.dump()
        for cert in candidates:
            if cert.serial_number != serial:
                continue
            cert_issuer, _, _ = issuer_and_serial(cert)
            if cert_issuer == issuer_der or to_asn1_cert(cert).issuer == issuer:
                return cert
        return None
    ski = sid.chosen.native
    for cert in candidates:
        if to_asn1_cert(cert).key_identifier == ski:
            return cert
    return None


def verify(der: bytes, *, extra_certs: Sequence[x509.Certificate] = ()) -> VerifiedSignedData:
    """Parse ContentInfo(SignedData) with exactly one signer and verify its signature.

    The signer is looked up in SignedData.certificates, then in `extra_certs` (a CertRep from NDES
    carries no certificates: the client knows the RA certificates from GetCACert).
    """
    signed = load_signed_data(der)
    try:
        return _verify(signed, extra_certs)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DecodeError(f"malformed SignedData: {exc}") from exc


def _verify(signed: cms.SignedData, extra_certs: Sequence[x509.Certificate]) -> VerifiedSignedData:
    certs = tuple(
        from_asn1_cert(c.chosen) for c in (signed["certificates"] or []) if c.name == "certificate"
    )
    infos = list(signed["signer_infos"])
    if len(infos) != 1:
        raise DecodeError(f"expected one SignerInfo, found {len(infos)}")
    info = infos[0]
    encap = signed["encap_content_info"]
    content_type = encap["content_type"].native
    content: bytes | None = None
    if encap["content"]:
        content = encap["content"].contents if content_type != "data" else encap["content"].native
    digest_name = info["digest_algorithm"]["algorithm"].native
    sig_name = info["signature_algorithm"]["algorithm"].native
    try:
        digest = Digest(digest_name)
    except ValueError as exc:
        raise UnsupportedAlgorithm(f"digest algorithm {digest_name} is not supported") from exc
    if sig_name not in _SIGNATURE_NAMES:
        raise UnsupportedAlgorithm(f"signature algorithm {sig_name} is not supported")
    signed_attrs = info["signed_attrs"]
    if not signed_attrs:
        raise DecodeError("SignerInfo has no signed attributes")

    signer = _find_signer(info["sid"], (*certs, *extra_certs))
    if signer is None:
        raise SignatureError("the signer's certificate is not in SignedData nor among known ones")
    try:
        public_key = signer.public_key()
    except CryptographyUnsupported as exc:
        raise UnsupportedAlgorithm(f"the signer's key type is not supported: {exc}") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise UnsupportedAlgorithm("only RSA signers are supported")
    to_check = b"\x31" + signed_attrs.dump()[1:]
    try:
        public_key.verify(info["signature"].native, to_check, padding.PKCS1v15(), hash_of(digest))
    except InvalidSignature as exc:
        raise SignatureError("the SignerInfo signature does not verify") from exc

    attributes = {attr["type"].native: attr for attr in signed_attrs}
    ct = attributes.get("content_type")
    md = attributes.get("message_digest")
    if ct is None or md is None:
        raise DecodeError("signed attributes lack contentType or messageDigest")
    if ct["values"][0].native != content_type:
        raise SignatureError("contentType attribute does not match the encapsulated content")
    if md["values"][0].native != digest_bytes(digest, content or b""):
        raise SignatureError("messageDigest attribute does not match the content")
    return VerifiedSignedData(
        content=content,
        content_type=str(content_type),
        signer=signer,
        digest=digest,
        attributes=attributes,
        certificates=certs,
    )
