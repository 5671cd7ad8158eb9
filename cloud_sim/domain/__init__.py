"""The cloud's domain core, free of transport and storage: Intune's codes, the challenge (sealed
and opened), the validation decision table, and profile variables.

Nothing here imports fastapi, httpx or sqlalchemy (a test checks it): the routes and the store
call in, and the store answers the validation's questions through the `ValidationLookup` port.
"""

from __future__ import annotations

from shared.api.intune import RevocationErrorCode

from .challenge import (
    CLAIMS_VERSION,
    DEFAULT_LIFETIME,
    ChallengeClaims,
    ChallengeKeys,
    HashAlgorithm,
    KeyUsage,
    SanType,
    dump_claims,
    load_claims,
    new_challenge_id,
    open_challenge,
    seal_challenge,
    seal_payload,
)
from .codes import ErrorCode
from .errors import (
    ChallengeError,
    DomainError,
    ProfileError,
    SubjectFormatError,
    UnresolvedVariable,
)
from .subject import parse_subject, same_name
from .validation import MAX_CLOCK_SKEW, ValidationLookup, Verdict, compare_request, validate
from .variables import (
    VARIABLES,
    DeviceFacts,
    Platform,
    UserFacts,
    build_expected_sans,
    build_expected_subject,
    resolve,
    sid_uri,
    subject_template,
)

__all__ = [
    "CLAIMS_VERSION",
    "DEFAULT_LIFETIME",
    "MAX_CLOCK_SKEW",
    "VARIABLES",
    "ChallengeClaims",
    "ChallengeError",
    "ChallengeKeys",
    "DeviceFacts",
    "DomainError",
    "ErrorCode",
    "HashAlgorithm",
    "KeyUsage",
    "Platform",
    "ProfileError",
    "RevocationErrorCode",
    "SanType",
    "SubjectFormatError",
    "UnresolvedVariable",
    "UserFacts",
    "ValidationLookup",
    "Verdict",
    "build_expected_sans",
    "build_expected_subject",
    "compare_request",
    "dump_claims",
    "load_claims",
    "new_challenge_id",
    "open_challenge",
    "parse_subject",
    "resolve",
    "same_name",
    "seal_challenge",
    "seal_payload",
    "sid_uri",
    "subject_template",
    "validate",
]
