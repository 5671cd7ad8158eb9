"""The Intune challenge: claims that bind one enrolment, encrypted, then signed.

`seal_challenge` serializes the claims as canonical JSON (`claims.dump_claims`), encrypts them
(CMS EnvelopedData, AES-256-CBC) to the cloud's challenge-encryption certificate, signs that
envelope (CMS SignedData, SHA-256, the signing certificate included) with the challenge-signing
certificate, and returns the DER in standard base64: PrintableString-safe, so a device can put it
in its CSR's challengePassword, and opaque to NDES, the connector and the device (intune-api.md
§2; Intune's own format, a base64 `CertEnrollChallenge`, is not public). `open_challenge` undoes
it layer by layer, and each layer that fails has its own Intune code (see `open_challenge`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.pki import PrivateKey, check_key_pair
from shared.scep.envelope import decrypt, encrypt
from shared.scep.errors import DecodeError, DecryptError, SignatureError, UnsupportedAlgorithm
from shared.scep.signed import sign, verify
from shared.scep.types import ContentCipher, Digest

from .claims import (
    CLAIMS_VERSION,
    DEFAULT_LIFETIME,
    ChallengeClaims,
    HashAlgorithm,
    KeyUsage,
    SanType,
    dump_claims,
    load_claims,
    new_challenge_id,
)
from .codes import ErrorCode
from .errors import ChallengeError

__all__ = [
    "CLAIMS_VERSION",
    "DEFAULT_LIFETIME",
    "ChallengeClaims",
    "ChallengeError",
    "ChallengeKeys",
    "HashAlgorithm",
    "KeyUsage",
    "SanType",
    "dump_claims",
    "load_claims",
    "new_challenge_id",
    "open_challenge",
    "seal_challenge",
    "seal_payload",
]

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def seal_payload(
    payload: bytes,
    *,
    sign_cert: x509.Certificate,
    sign_key: rsa.RSAPrivateKey,
    encrypt_cert: x509.Certificate,
) -> str:
    """Encrypt `payload` to `encrypt_cert`, sign the envelope, base64 the DER."""
    envelope = encrypt(payload, [encrypt_cert], cipher=ContentCipher.AES_256_CBC)
    signed = sign(
        envelope, (), signer=sign_cert, key=sign_key, digest=Digest.SHA256, certificates=[sign_cert]
    )
    text = base64.b64encode(signed).decode("ascii")
    assert _BASE64.fullmatch(text), "base64 output must be PrintableString-safe"
    return text


def seal_challenge(
    claims: ChallengeClaims,
    *,
    sign_cert: x509.Certificate,
    sign_key: rsa.RSAPrivateKey,
    encrypt_cert: x509.Certificate,
) -> str:
    """The challenge text for `claims`: base64(SignedData(EnvelopedData(canonical JSON)))."""
    return seal_payload(
        dump_claims(claims), sign_cert=sign_cert, sign_key=sign_key, encrypt_cert=encrypt_cert
    )


def open_challenge(
    text: str | None,
    *,
    sign_cert: x509.Certificate,
    encrypt_cert: x509.Certificate,
    encrypt_key: rsa.RSAPrivateKey,
) -> ChallengeClaims:
    """The claims of a challenge `seal_challenge` made, or a ChallengeError whose code says which
    layer failed: empty → ChallengePasswordMissing; not base64 nor DER SignedData →
    ChallengeDecodingError; a signature that does not verify, or by another certificate than
    `sign_cert`, or not SHA-256 → SignatureValidationFailed; an envelope we cannot open →
    ChallengeDecryptionError; content that is not claims → ChallengeDeserializationError."""
    if not text:
        raise ChallengeError(ErrorCode.CHALLENGE_PASSWORD_MISSING)
    if not _BASE64.fullmatch(text):
        raise ChallengeError(ErrorCode.CHALLENGE_DECODING_ERROR, "not base64")
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ChallengeError(ErrorCode.CHALLENGE_DECODING_ERROR, "not base64") from exc
    try:
        signed = verify(der, extra_certs=[sign_cert])
    except SignatureError as exc:
        raise ChallengeError(ErrorCode.SIGNATURE_VALIDATION_FAILED, str(exc)) from exc
    except UnsupportedAlgorithm as exc:
        raise ChallengeError(ErrorCode.SIGNATURE_VALIDATION_FAILED, str(exc)) from exc
    except DecodeError as exc:
        raise ChallengeError(ErrorCode.CHALLENGE_DECODING_ERROR, "not a CMS SignedData") from exc
    if signed.signer != sign_cert:  # the signer must be our certificate, byte for byte
        raise ChallengeError(ErrorCode.SIGNATURE_VALIDATION_FAILED, "signed by another certificate")
    if signed.digest is not Digest.SHA256:
        raise ChallengeError(ErrorCode.SIGNATURE_VALIDATION_FAILED, "not signed with SHA-256")
    if signed.content is None or signed.content_type != "data":
        raise ChallengeError(ErrorCode.CHALLENGE_DECODING_ERROR, "SignedData holds no content")
    try:
        envelope = decrypt(signed.content, certificate=encrypt_cert, key=encrypt_key)
    except (DecryptError, DecodeError, UnsupportedAlgorithm) as exc:
        raise ChallengeError(ErrorCode.CHALLENGE_DECRYPTION_ERROR, str(exc)) from exc
    return load_claims(envelope.content)


@dataclass(frozen=True)
class ChallengeKeys:
    """The cloud's two challenge certificates and their keys (RSA: CMS key transport)."""

    sign_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey = field(repr=False)
    encrypt_cert: x509.Certificate
    encrypt_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def load(
        cls,
        sign: tuple[x509.Certificate, PrivateKey],
        encryption: tuple[x509.Certificate, PrivateKey],
    ) -> ChallengeKeys:
        """From (certificate, key) pairs; ValueError unless each pair is RSA and matches."""
        return cls(
            sign[0],
            _rsa_pair(*sign, "signing"),
            encryption[0],
            _rsa_pair(*encryption, "encryption"),
        )

    def seal(self, claims: ChallengeClaims) -> str:
        return seal_challenge(
            claims, sign_cert=self.sign_cert, sign_key=self.sign_key, encrypt_cert=self.encrypt_cert
        )

    def open(self, text: str | None) -> ChallengeClaims:
        return open_challenge(
            text,
            sign_cert=self.sign_cert,
            encrypt_cert=self.encrypt_cert,
            encrypt_key=self.encrypt_key,
        )


def _rsa_pair(cert: x509.Certificate, key: PrivateKey, what: str) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"the challenge {what} key must be RSA")
    check_key_pair(cert, key, f"challenge {what} certificate and key")
    return key
