"""Intune's ScepActions `ErrorCode` (intune-api.md §1.3), spelled as on the wire. (The
revocation `RevocationErrorCode` of §1.4 is in `shared.api.intune`: the connector sends it.)

`ErrorCode`'s values are the wire names, in Microsoft's order (IRA `IntuneScepServiceClient`),
plus `BadTenantIdInChallenge`, which the live service returns though the client libraries do not
list it. Each code has a plain-language `description`, sent as `errorDescription` (≤ 255
characters).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNKNOWN = "Unknown"
    SUCCESS = "Success"
    CERTIFICATE_REQUEST_DECODING_FAILED = "CertificateRequestDecodingFailed"
    CHALLENGE_PASSWORD_MISSING = "ChallengePasswordMissing"
    CHALLENGE_DESERIALIZATION_ERROR = "ChallengeDeserializationError"
    CHALLENGE_DECRYPTION_ERROR = "ChallengeDecryptionError"
    CHALLENGE_DECODING_ERROR = "ChallengeDecodingError"
    CHALLENGE_INVALID_TIMESTAMP = "ChallengeInvalidTimestamp"
    CHALLENGE_EXPIRED = "ChallengeExpired"
    SUBJECT_NAME_MISSING = "SubjectNameMissing"
    SUBJECT_NAME_MISMATCH = "SubjectNameMismatch"
    SUBJECT_ALT_NAME_MISSING = "SubjectAltNameMissing"
    SUBJECT_ALT_NAME_MISMATCH = "SubjectAltNameMismatch"
    KEY_USAGE_MISMATCH = "KeyUsageMismatch"
    KEY_LENGTH_MISMATCH = "KeyLengthMismatch"
    ENHANCED_KEY_USAGE_MISSING = "EnhancedKeyUsageMissing"
    ENHANCED_KEY_USAGE_MISMATCH = "EnhancedKeyUsageMismatch"
    AAD_KEY_IDENTIFIER_LIST_MISSING = "AadKeyIdentifierListMissing"
    REGISTERED_KEY_MISMATCH = "RegisteredKeyMismatch"
    SIGNING_CERT_THUMBPRINT_MISMATCH = "SigningCertThumbprintMismatch"
    SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT = "ScepProfileNoLongerTargetedToTheClient"
    SIGNATURE_VALIDATION_FAILED = "SignatureValidationFailed"
    BAD_CERTIFICATE_REQUEST_ID_IN_CHALLENGE = "BadCertificateRequestIdInChallenge"
    BAD_DEVICE_ID_IN_CHALLENGE = "BadDeviceIdInChallenge"
    BAD_USER_ID_IN_CHALLENGE = "BadUserIdInChallenge"
    BAD_TENANT_ID_IN_CHALLENGE = "BadTenantIdInChallenge"

    @property
    def description(self) -> str:
        """What the code means, in plain language: the `errorDescription` sent with it."""
        return _DESCRIPTIONS[self]

    @classmethod
    def from_wire(cls, text: str) -> ErrorCode:
        """The code named `text`; an unknown name is `UNKNOWN`, as Intune's Java client maps it."""
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN: "An unknown error occurred while validating the request.",
    ErrorCode.SUCCESS: "The certificate request matches its challenge.",
    ErrorCode.CERTIFICATE_REQUEST_DECODING_FAILED: (
        "The certificate request could not be decoded as a valid PKCS#10 request."
    ),
    ErrorCode.CHALLENGE_PASSWORD_MISSING: (
        "The certificate request carries no challenge password."
    ),
    ErrorCode.CHALLENGE_DESERIALIZATION_ERROR: (
        "The challenge was decrypted but its contents could not be read."
    ),
    ErrorCode.CHALLENGE_DECRYPTION_ERROR: "The challenge could not be decrypted.",
    ErrorCode.CHALLENGE_DECODING_ERROR: "The challenge is not in the expected encoding.",
    ErrorCode.CHALLENGE_INVALID_TIMESTAMP: (
        "The challenge's timestamp is not valid: it was issued in the future."
    ),
    ErrorCode.CHALLENGE_EXPIRED: (
        "The challenge has expired; the device gets a new one at its next check-in."
    ),
    ErrorCode.SUBJECT_NAME_MISSING: (
        "The certificate request has no subject name, but the challenge expects one."
    ),
    # the wording of the real connector's log (intune-api.md §2, §5)
    ErrorCode.SUBJECT_NAME_MISMATCH: "Subject Name in CSR and challenge do not match",
    ErrorCode.SUBJECT_ALT_NAME_MISSING: (
        "The certificate request has no subject alternative name, but the challenge expects some."
    ),
    ErrorCode.SUBJECT_ALT_NAME_MISMATCH: (
        "Subject alternative names in CSR and challenge do not match."
    ),
    ErrorCode.KEY_USAGE_MISMATCH: "Key usage in CSR and challenge do not match.",
    ErrorCode.KEY_LENGTH_MISMATCH: "Key length in CSR and challenge do not match.",
    ErrorCode.ENHANCED_KEY_USAGE_MISSING: (
        "The certificate request has no extended key usage, but the challenge expects some."
    ),
    ErrorCode.ENHANCED_KEY_USAGE_MISMATCH: (
        "Extended key usages in CSR and challenge do not match."
    ),
    ErrorCode.AAD_KEY_IDENTIFIER_LIST_MISSING: (
        "The request lacks the list of Entra ID key identifiers the challenge expects."
    ),
    ErrorCode.REGISTERED_KEY_MISMATCH: (
        "The request's key is not the key registered for the device."
    ),
    ErrorCode.SIGNING_CERT_THUMBPRINT_MISMATCH: (
        "The challenge, or the renewal request, was signed by a certificate other than the "
        "expected one."
    ),
    ErrorCode.SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT: (
        "The SCEP profile is no longer assigned to this device."
    ),
    ErrorCode.SIGNATURE_VALIDATION_FAILED: "The challenge's signature is not valid.",
    ErrorCode.BAD_CERTIFICATE_REQUEST_ID_IN_CHALLENGE: (
        "The certificate request the challenge was issued for is no longer open: "
        "the challenge was already used."
    ),
    ErrorCode.BAD_DEVICE_ID_IN_CHALLENGE: (
        "The device ID in the challenge is not a device of this tenant."
    ),
    ErrorCode.BAD_USER_ID_IN_CHALLENGE: (
        "The user ID in the challenge is not the user of the device."
    ),
    # the live service's wording (IRA issue #129)
    ErrorCode.BAD_TENANT_ID_IN_CHALLENGE: (
        "tenantId in challenge does not match tenantId from security token."
    ),
}
