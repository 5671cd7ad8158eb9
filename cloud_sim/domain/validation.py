"""The validation decision table: a CSR and the challenge inside it → one Intune `ErrorCode`.

What `ScepActions/validateRequest` answers. The checks run in this order and the first that fails
decides (so a request with several faults reports the earliest):

 1. the CSR decodes, and its self-signature verifies   CertificateRequestDecodingFailed
 2. it carries a challengePassword                      ChallengePasswordMissing
 3. the challenge opens (see `open_challenge`)          ChallengeDecodingError,
                                                        SignatureValidationFailed,
                                                        ChallengeDecryptionError,
                                                        ChallengeDeserializationError
 4. issued_at ≤ now + 5 minutes of clock skew           ChallengeInvalidTimestamp
 5. now ≤ expires_at                                    ChallengeExpired
 6. its tenant is the caller's tenant                   BadTenantIdInChallenge
 7. its device is a device of that tenant               BadDeviceIdInChallenge
 8. its user (user certificates) is the device's user   BadUserIdInChallenge
 9. it was not used before (unless reuse is allowed)    BadCertificateRequestIdInChallenge
10. the profile still targets the device                ScepProfileNoLongerTargetedToTheClient
11. subject: present if expected, then equal            SubjectNameMissing, SubjectNameMismatch
12. SANs: present if expected, then the same set        SubjectAltNameMissing, …Mismatch
13. EKUs: present if expected, then the same set        EnhancedKeyUsageMissing, …Mismatch
14. key usage: the same bits                            KeyUsageMismatch
15. key: RSA of the expected size                       KeyLengthMismatch
otherwise Success.

Choices where Intune's behaviour is not public (intune-api.md §6):
- A reused challenge answers BadCertificateRequestIdInChallenge: the challenge is genuine and
  fresh, but the certificate request it was issued for has already been served, so the request
  ID it names no longer designates an open request. ChallengeExpired stays purely about time, as
  the connector's 0x411 "retry after getting a new challenge" is.
- Subjects are compared as distinguished names: the same RDNs in the same order, each RDN the
  same set of (attribute type, value), values exactly (case and spaces count; the ASN.1 string
  type does not). A CN whose comma was escaped in the profile but arrived with the backslash, or
  split into two RDNs, does not match — the real "Subject Name in CSR and challenge do not
  match".
- SANs are compared as sets of (type, value), exactly, except DNS names, which are
  case-insensitive (RFC 4343); a SAN in the CSR that the profile does not list is a mismatch.
- EKUs: the CSR must list exactly the profile's EKUs (as a set, order free), no more, no fewer.
- Key usage: exactly the profile's bits; a CSR without the extension does not match.
- Extensions the profile says nothing about (a SID extension, basic constraints) are not
  looked at: DJ added an arbitrary SID extension and passed (intune-api.md §2).
- The CSR's signature hash is not checked against the profile's hash algorithm: Intune has no
  code for it.

`validate` only reads: it neither marks the challenge used nor records anything. The caller does,
from the verdict (its claims say which device, user, profile and request it was).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from shared.pki import CsrError, CsrInfo, inspect_csr

from .challenge import ChallengeClaims, ChallengeKeys, open_challenge
from .codes import ErrorCode
from .errors import ChallengeError
from .subject import parse_subject, same_name

MAX_CLOCK_SKEW = timedelta(minutes=5)


class ValidationLookup(Protocol):
    """What the decision table asks the cloud's store (implemented over its database)."""

    async def device_exists(self, tenant_id: str, device_id: str) -> bool: ...

    async def user_matches(self, tenant_id: str, device_id: str, user_id: str) -> bool:
        """Whether `user_id` is the (primary) user of the device."""
        ...

    async def challenge_used(self, challenge_id: str) -> bool: ...

    async def is_profile_targeted(self, device_id: str, profile_id: str) -> bool: ...


@dataclass(frozen=True)
class Verdict:
    """The answer: Intune's code, its description (the wire `errorDescription`), a detail for
    the lab's trace (facts about the CSR only, never the challenge's contents), and what could
    be read: the claims (once the challenge opened) and the CSR (once it decoded)."""

    code: ErrorCode
    description: str
    detail: str = ""
    claims: ChallengeClaims | None = None
    csr: CsrInfo | None = None

    @property
    def ok(self) -> bool:
        return self.code is ErrorCode.SUCCESS


async def validate(
    certificate_request: bytes | str,
    *,
    keys: ChallengeKeys,
    caller_tenant_id: str,
    now: datetime,
    lookup: ValidationLookup,
    allow_reuse: bool = False,
    max_clock_skew: timedelta = MAX_CLOCK_SKEW,
) -> Verdict:
    """Run the decision table (see the module docstring) on a DER CSR, or its base64 as in
    `certificateRequest`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    csr = read_request(certificate_request)
    if isinstance(csr, Verdict):
        return csr
    if csr.challenge_password is None:
        return _verdict(ErrorCode.CHALLENGE_PASSWORD_MISSING, csr=csr)
    try:
        claims = open_challenge(
            csr.challenge_password,
            sign_cert=keys.sign_cert,
            encrypt_cert=keys.encrypt_cert,
            encrypt_key=keys.encrypt_key,
        )
    except ChallengeError as exc:
        return _verdict(exc.code, exc.reason, csr=csr)

    def fail(code: ErrorCode, detail: str = "") -> Verdict:
        return _verdict(code, detail, claims=claims, csr=csr)

    if claims.issued_at > now + max_clock_skew:
        return fail(ErrorCode.CHALLENGE_INVALID_TIMESTAMP, "issued in the future")
    if now > claims.expires_at:
        return fail(ErrorCode.CHALLENGE_EXPIRED)
    # tenant IDs are GUIDs, which Microsoft compares without regard to case
    if claims.tenant_id.casefold() != caller_tenant_id.casefold():
        return fail(ErrorCode.BAD_TENANT_ID_IN_CHALLENGE)
    if not await lookup.device_exists(claims.tenant_id, claims.device_id):
        return fail(ErrorCode.BAD_DEVICE_ID_IN_CHALLENGE)
    if claims.user_id is not None and not await lookup.user_matches(
        claims.tenant_id, claims.device_id, claims.user_id
    ):
        return fail(ErrorCode.BAD_USER_ID_IN_CHALLENGE)
    if not allow_reuse and await lookup.challenge_used(claims.challenge_id):
        return fail(ErrorCode.BAD_CERTIFICATE_REQUEST_ID_IN_CHALLENGE, "challenge already used")
    if not await lookup.is_profile_targeted(claims.device_id, claims.profile_id):
        return fail(ErrorCode.SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT)
    code, detail = compare_request(csr, claims)
    return fail(code, detail)


def read_request(certificate_request: bytes | str) -> CsrInfo | Verdict:
    """Step 1: the CSR, decoded and its self-signature verified, or the verdict refusing it."""
    try:
        csr = inspect_csr(_der(certificate_request))
    except CsrError as exc:
        return _verdict(ErrorCode.CERTIFICATE_REQUEST_DECODING_FAILED, str(exc))
    if not csr.signature_valid:
        return _verdict(
            ErrorCode.CERTIFICATE_REQUEST_DECODING_FAILED,
            "the CSR's self-signature does not verify",
            csr=csr,
        )
    return csr


def compare_request(csr: CsrInfo, claims: ChallengeClaims) -> tuple[ErrorCode, str]:
    """Steps 11-15: does the CSR ask for what the challenge expects? (code, detail)."""
    expected_subject = parse_subject(claims.expected_subject)  # checked by ChallengeClaims
    if len(expected_subject) and not len(csr.subject):
        return ErrorCode.SUBJECT_NAME_MISSING, "the CSR's subject is empty"
    if not same_name(csr.subject, expected_subject):
        return ErrorCode.SUBJECT_NAME_MISMATCH, f"CSR subject {csr.subject_text!r}"
    csr_sans = {_san_key(kind, value) for kind, value in csr.sans}
    expected_sans = {_san_key(kind, value) for kind, value in claims.expected_sans}
    if expected_sans and not csr_sans:
        return ErrorCode.SUBJECT_ALT_NAME_MISSING, "the CSR has no subjectAltName"
    if csr_sans != expected_sans:
        return ErrorCode.SUBJECT_ALT_NAME_MISMATCH, f"CSR SANs {sorted(csr.sans)}"
    if claims.expected_ekus and not csr.ekus:
        return ErrorCode.ENHANCED_KEY_USAGE_MISSING, "the CSR has no extendedKeyUsage"
    if set(csr.ekus) != set(claims.expected_ekus):
        return ErrorCode.ENHANCED_KEY_USAGE_MISMATCH, f"CSR EKUs {sorted(csr.ekus)}"
    if csr.key_usage != claims.expected_key_usage:
        usage = "no keyUsage" if csr.key_usage is None else sorted(csr.key_usage)
        return ErrorCode.KEY_USAGE_MISMATCH, f"CSR key usage {usage}"
    if csr.key_kind != "rsa" or csr.key_size != claims.expected_key_length:
        return ErrorCode.KEY_LENGTH_MISMATCH, f"CSR key {csr.key_kind.upper()}-{csr.key_size}"
    return ErrorCode.SUCCESS, ""


def _der(certificate_request: bytes | str) -> bytes:
    if isinstance(certificate_request, bytes):
        return certificate_request
    try:
        return base64.b64decode(certificate_request, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CsrError("certificateRequest is not base64") from exc


def _san_key(kind: str, value: str) -> tuple[str, str]:
    return (kind, value.casefold()) if kind == "dns" else (kind, value)


def _verdict(
    code: ErrorCode,
    detail: str = "",
    *,
    claims: ChallengeClaims | None = None,
    csr: CsrInfo | None = None,
) -> Verdict:
    return Verdict(code, code.description, detail, claims, csr)
