"""Certification requests (PKCS#10): build one from a `CsrSpec`; take one apart with `inspect_csr`.

The challengePassword attribute (1.2.840.113549.1.9.7) is a DirectoryString: clients send it as a
PrintableString (Windows, micromdm) or a UTF8String (some MDM agents). Windows refuses a challenge
with characters outside PrintableString; `CsrSpec` refuses it the same way. The extensionRequest
attribute (1.2.840.113549.1.9.14) carries SANs, EKUs, key usage and basic constraints.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding

# Private in cryptography, but the documented way to pick the attribute's string type.
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID

from .errors import CsrError
from .keys import PrivateKey, key_size_of
from .sans import San, build_subject_alternative_name, read_subject_alternative_name
from .signing import (
    DEFAULT_HASH,
    check_signature_hash,
    ecdsa_deterministic_for,
    rsa_padding_for,
)
from .usage import (
    KeyUsageName,
    build_extended_key_usage,
    build_key_usage,
    read_extended_key_usage,
    read_key_usage,
)

ChallengeEncoding = Literal["printable", "utf8"]
ChallengeTag = Literal["printable", "utf8", "ia5", "bmp", "teletex", "universal"]

CHALLENGE_PASSWORD_OID = AttributeOID.CHALLENGE_PASSWORD  # 1.2.840.113549.1.9.7
EXTENSION_REQUEST_OID = x509.ObjectIdentifier("1.2.840.113549.1.9.14")
PRINTABLE_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)

# tag number -> (name, codec) of the string types a challengePassword may arrive in
_STRING_TAGS: dict[int, tuple[ChallengeTag, str]] = {
    19: ("printable", "ascii"),
    12: ("utf8", "utf-8"),
    22: ("ia5", "ascii"),
    30: ("bmp", "utf-16-be"),
    20: ("teletex", "latin-1"),
    28: ("universal", "utf-32-be"),
}


# what cryptography raises, lazily, on a CSR it loaded but cannot fully decode
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


@dataclass(frozen=True)
class CsrSpec:
    """What a CSR asks for. Validated on construction; sequences are kept as tuples."""

    subject: x509.Name
    sans: tuple[San, ...] = ()
    ekus: tuple[str, ...] = ()
    key_usage: frozenset[KeyUsageName] | None = None
    basic_constraints: x509.BasicConstraints | None = None
    challenge_password: str | None = field(default=None, repr=False)  # a secret: not in repr
    challenge_encoding: ChallengeEncoding = "printable"
    extra_extensions: tuple[x509.Extension[x509.ExtensionType], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "sans", tuple(San(*san) for san in self.sans))
        object.__setattr__(self, "ekus", tuple(str(oid) for oid in self.ekus))
        object.__setattr__(self, "extra_extensions", tuple(self.extra_extensions))
        if self.key_usage is not None:
            object.__setattr__(self, "key_usage", frozenset(self.key_usage))
            build_key_usage(self.key_usage)  # raises ValueError on unknown names
        build_subject_alternative_name(self.sans)  # raises ValueError on bad kinds or addresses
        build_extended_key_usage(self.ekus)
        if self.challenge_encoding not in ("printable", "utf8"):
            raise ValueError(
                f"challenge_encoding must be 'printable' or 'utf8', not {self.challenge_encoding!r}"
            )
        if self.challenge_password is not None:
            check_challenge_password(self.challenge_password, self.challenge_encoding)


def check_challenge_password(password: str, encoding: ChallengeEncoding) -> None:
    """ValueError if `password` cannot be sent with `encoding` (as Windows' CertEnroll refuses)."""
    if not password:
        raise ValueError("challenge password is empty; use None to send no challengePassword")
    if encoding == "printable":
        # say where, never what: the message may be logged and the password is a secret
        bad = [i for i, ch in enumerate(password) if ch not in PRINTABLE_CHARACTERS]
        if bad:
            raise ValueError(
                "challenge password cannot be encoded as a PrintableString: "
                f"{len(bad)} character(s) outside it, the first at position {bad[0]} "
                "(PrintableString allows only A-Z a-z 0-9, space and ' ( ) + , - . / : = ?); "
                "use challenge_encoding='utf8'"
            )


def build_csr(
    key: PrivateKey, spec: CsrSpec, hash: hashes.HashAlgorithm = DEFAULT_HASH
) -> x509.CertificateSigningRequest:
    """A CSR for `key`'s public key, signed by `key` (PKCS#1 v1.5 for RSA)."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(spec.subject)
    if spec.sans:
        # RFC 5280 4.2.1.6: with an empty subject, the SAN extension is critical
        critical = len(spec.subject) == 0
        builder = builder.add_extension(build_subject_alternative_name(spec.sans), critical)
    if spec.ekus:
        builder = builder.add_extension(build_extended_key_usage(spec.ekus), critical=False)
    if spec.key_usage is not None:
        builder = builder.add_extension(build_key_usage(spec.key_usage), critical=True)
    if spec.basic_constraints is not None:
        builder = builder.add_extension(spec.basic_constraints, critical=True)
    for ext in spec.extra_extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    if spec.challenge_password is not None:
        if spec.challenge_encoding == "printable":
            value, tag = spec.challenge_password.encode("ascii"), _ASN1Type.PrintableString
        else:
            value, tag = spec.challenge_password.encode("utf-8"), _ASN1Type.UTF8String
        builder = builder.add_attribute(CHALLENGE_PASSWORD_OID, value, _tag=tag)
    return builder.sign(
        key,
        check_signature_hash(hash),
        rsa_padding=rsa_padding_for(key),
        ecdsa_deterministic=ecdsa_deterministic_for(key),
    )


@dataclass(frozen=True)
class CsrInfo:
    """Everything a reviewer (or the Intune validation) looks at in a CSR."""

    csr: x509.CertificateSigningRequest
    subject: x509.Name
    subject_text: str  # RFC 4514
    sans: tuple[San, ...]
    ekus: tuple[str, ...]
    key_usage: frozenset[KeyUsageName] | None
    basic_constraints: x509.BasicConstraints | None
    public_key: CertificatePublicKeyTypes
    key_kind: str  # 'rsa', 'ec', or the class name of anything else, lower case
    key_size: int
    signature_hash: str | None  # 'sha256', ...; None for Ed25519/Ed448
    signature_valid: bool
    challenge_password: str | None = field(repr=False)  # a secret: not in repr
    challenge_tag: ChallengeTag | None  # the string type the challenge arrived in
    extensions: x509.Extensions

    @property
    def der(self) -> bytes:
        return self.csr.public_bytes(Encoding.DER)


def inspect_csr(der: bytes) -> CsrInfo:
    """Decode a DER CSR. Anything malformed raises `CsrError`, with what was wrong."""
    try:
        csr = x509.load_der_x509_csr(der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CsrError(f"not a DER PKCS#10 certification request: {exc}") from exc
    try:
        with warnings.catch_warnings():
            # cryptography warns (UserWarning) on a malformed but decodable name, such as a
            # one-letter countryName; a peer's CSR is reported on, not judged, here
            warnings.simplefilter("ignore", UserWarning)
            return _inspect(csr)
    except CsrError:
        raise
    except _DECODE_ERRORS as exc:
        raise CsrError(f"malformed certification request: {exc}") from exc


def _inspect(csr: x509.CertificateSigningRequest) -> CsrInfo:
    subject = csr.subject
    extensions = csr.extensions
    sans: tuple[San, ...] = ()
    ekus: tuple[str, ...] = ()
    key_usage: frozenset[KeyUsageName] | None = None
    basic_constraints: x509.BasicConstraints | None = None
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.SubjectAlternativeName):
            sans = read_subject_alternative_name(value)
        elif isinstance(value, x509.ExtendedKeyUsage):
            ekus = read_extended_key_usage(value)
        elif isinstance(value, x509.KeyUsage):
            key_usage = read_key_usage(value)
        elif isinstance(value, x509.BasicConstraints):
            basic_constraints = value
    public_key = csr.public_key()
    try:
        key_size = key_size_of(public_key)
    except ValueError:
        key_size = 0
    if isinstance(public_key, rsa.RSAPublicKey):
        key_kind = "rsa"
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        key_kind = "ec"
    else:
        key_kind = type(public_key).__name__.removesuffix("PublicKey").lower()
    sig_hash = csr.signature_hash_algorithm
    password, tag = _read_challenge(csr)
    return CsrInfo(
        csr=csr,
        subject=subject,
        subject_text=subject.rfc4514_string(),
        sans=sans,
        ekus=ekus,
        key_usage=key_usage,
        basic_constraints=basic_constraints,
        public_key=public_key,
        key_kind=key_kind,
        key_size=key_size,
        signature_hash=None if sig_hash is None else sig_hash.name,
        signature_valid=_signature_valid(csr),
        challenge_password=password,
        challenge_tag=tag,
        extensions=extensions,
    )


def _read_challenge(csr: x509.CertificateSigningRequest) -> tuple[str | None, ChallengeTag | None]:
    try:
        attribute = csr.attributes.get_attribute_for_oid(CHALLENGE_PASSWORD_OID)
    except x509.AttributeNotFound:
        return None, None
    known = _STRING_TAGS.get(attribute._type)  # cryptography keeps the tag only privately
    if known is None:
        raise CsrError(f"challengePassword is not a string (ASN.1 tag {attribute._type})")
    name, codec = known
    try:
        return attribute.value.decode(codec), name
    except UnicodeDecodeError as exc:
        raise CsrError(f"challengePassword is not a valid {name} string: {exc}") from exc


def _signature_valid(csr: x509.CertificateSigningRequest) -> bool:
    try:
        return csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        return False
