"""Intune's codes, spelled and ordered as on the wire (intune-api.md §1.3, §1.4)."""

from __future__ import annotations

import pytest

from cloud_sim.domain import ErrorCode, RevocationErrorCode

# IntuneScepServiceClient's enum, in its order, then the code only the live service returns
INTUNE_CODES = [
    "Unknown",
    "Success",
    "CertificateRequestDecodingFailed",
    "ChallengePasswordMissing",
    "ChallengeDeserializationError",
    "ChallengeDecryptionError",
    "ChallengeDecodingError",
    "ChallengeInvalidTimestamp",
    "ChallengeExpired",
    "SubjectNameMissing",
    "SubjectNameMismatch",
    "SubjectAltNameMissing",
    "SubjectAltNameMismatch",
    "KeyUsageMismatch",
    "KeyLengthMismatch",
    "EnhancedKeyUsageMissing",
    "EnhancedKeyUsageMismatch",
    "AadKeyIdentifierListMissing",
    "RegisteredKeyMismatch",
    "SigningCertThumbprintMismatch",
    "ScepProfileNoLongerTargetedToTheClient",
    "SignatureValidationFailed",
    "BadCertificateRequestIdInChallenge",
    "BadDeviceIdInChallenge",
    "BadUserIdInChallenge",
    "BadTenantIdInChallenge",
]


def test_error_codes_are_intunes_in_intunes_order() -> None:
    assert [code.value for code in ErrorCode] == INTUNE_CODES


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_plain_description_that_fits_error_description(code: ErrorCode) -> None:
    assert 10 <= len(code.description) <= 255
    assert code.description.isprintable()


def test_the_descriptions_microsoft_wrote_are_kept() -> None:
    assert ErrorCode.SUBJECT_NAME_MISMATCH.description == (
        "Subject Name in CSR and challenge do not match"
    )
    assert ErrorCode.BAD_TENANT_ID_IN_CHALLENGE.description.startswith("tenantId in challenge")


def test_an_unknown_wire_code_reads_as_unknown_like_intunes_java_client() -> None:
    assert ErrorCode.from_wire("ChallengeExpired") is ErrorCode.CHALLENGE_EXPIRED
    assert ErrorCode.from_wire("SomethingNew") is ErrorCode.UNKNOWN


def test_revocation_codes_are_intunes_numbers() -> None:
    assert {code.wire_name: int(code) for code in RevocationErrorCode} == {
        "None": 0,
        "NonRetryableServiceException": 4000,
        "DataSerializationError": 4001,
        "ParameterDataInvalidError": 4002,
        "CryptographyError": 4003,
        "CertificateNotFoundError": 4004,
        "ConflictError": 4005,
        "NotSupportedError": 4006,
        "PayloadTooLargeError": 4007,
        "RetryableServiceException": 4100,
        "ServiceUnavailableException": 4101,
        "ServiceTooBusyException": 4102,
        "AuthenticationException": 4103,
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, RevocationErrorCode.NONE),
        ("0", RevocationErrorCode.NONE),  # Java
        ("None", RevocationErrorCode.NONE),  # C#
        ("none", RevocationErrorCode.NONE),  # C# with a camelCase serializer
        (4005, RevocationErrorCode.CONFLICT_ERROR),
        (" 4004 ", RevocationErrorCode.CERTIFICATE_NOT_FOUND_ERROR),
        ("CertificateNotFoundError", RevocationErrorCode.CERTIFICATE_NOT_FOUND_ERROR),
        ("certificateNotFoundError", RevocationErrorCode.CERTIFICATE_NOT_FOUND_ERROR),
        ("AuthenticationException", RevocationErrorCode.AUTHENTICATION_EXCEPTION),
    ],
)
def test_revocation_codes_parse_from_numbers_and_names(
    value: int | str, expected: RevocationErrorCode
) -> None:
    assert RevocationErrorCode.parse(value) is expected


@pytest.mark.parametrize("value", [True, 1, "4999", "", "Nope", "Conflict", 4005.0])
def test_anything_else_is_not_a_revocation_code(value: object) -> None:
    with pytest.raises(ValueError, match=r"revocation error code|RevocationErrorCode"):
        RevocationErrorCode.parse(value)  # type: ignore[arg-type]
