"""What a challenge binds (`ChallengeClaims`) and its canonical JSON form.

The JSON is the challenge's plaintext: `challenge` encrypts and signs it. The cloud may also keep
it in its store (it is the cloud's own record of what it issued). Field names are camelCase, as
on Intune's wire; times are ISO-8601 UTC with a `Z`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar, cast, get_args

from cryptography import x509

from .codes import ErrorCode
from .errors import ChallengeError, SubjectFormatError
from .subject import parse_subject

SanType = Literal["dns", "email", "upn", "uri"]
KeyUsage = Literal["digital_signature", "key_encipherment"]
HashAlgorithm = Literal["sha1", "sha2"]

CLAIMS_VERSION = 1
DEFAULT_LIFETIME = timedelta(minutes=60)  # one hour (intune-api.md §2, from DJ)

_SAN_TYPES: tuple[str, ...] = get_args(SanType)
_KEY_USAGES: tuple[str, ...] = get_args(KeyUsage)
_HASHES: tuple[str, ...] = get_args(HashAlgorithm)


def new_challenge_id() -> str:
    """A fresh random challenge ID (a UUID4: 122 random bits)."""
    return str(uuid.uuid4())


@dataclass(frozen=True, kw_only=True)
class ChallengeClaims:
    """What one challenge binds: who, for which profile, and the CSR it must come back with.

    Validated on construction (ValueError naming the field, never its value); sequences are kept
    as tuples and times as aware UTC. `challenge_id` is left out of the repr: it is the part of
    the challenge that acts as a password.
    """

    version: int = CLAIMS_VERSION
    challenge_id: str = field(default_factory=new_challenge_id, repr=False)
    tenant_id: str
    device_id: str  # the Intune device ID
    user_id: str | None  # the Entra user ID; None for a device certificate
    profile_id: str
    request_id: str  # the certificate request (per device and profile) it was issued for
    expected_subject: str  # RFC 4514 (as x509.Name.rfc4514_string writes it); "" for none
    expected_sans: tuple[tuple[SanType, str], ...] = ()
    expected_ekus: tuple[str, ...] = ()  # dotted OIDs
    expected_key_usage: frozenset[KeyUsage]
    expected_key_length: int  # bits
    hash_algorithm: HashAlgorithm = "sha2"
    issued_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "expected_sans", tuple((kind, value) for kind, value in self.expected_sans))
        set_(self, "expected_ekus", tuple(str(oid) for oid in self.expected_ekus))
        set_(self, "expected_key_usage", frozenset(self.expected_key_usage))
        if self.version != CLAIMS_VERSION:
            raise ValueError(f"unsupported claims version {self.version}")
        for name in ("challenge_id", "tenant_id", "device_id", "profile_id", "request_id"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        if self.user_id == "":
            raise ValueError("user_id is empty; use None for a device certificate")
        try:
            parse_subject(self.expected_subject)
        except SubjectFormatError:
            raise ValueError("expected_subject is not a distinguished name") from None
        for kind, value in self.expected_sans:
            if kind not in _SAN_TYPES or not value:
                raise ValueError("expected_sans holds an unknown type or an empty value")
        for oid in self.expected_ekus:
            try:
                x509.ObjectIdentifier(oid)
            except ValueError:
                raise ValueError("expected_ekus holds something that is not an OID") from None
        usage = self.expected_key_usage
        if not usage or not usage <= set(_KEY_USAGES):
            raise ValueError("expected_key_usage must name digital_signature, key_encipherment")
        if isinstance(self.expected_key_length, bool) or self.expected_key_length <= 0:
            raise ValueError("expected_key_length must be a positive number of bits")
        if self.hash_algorithm not in _HASHES:
            raise ValueError("hash_algorithm must be 'sha1' or 'sha2'")
        for name in ("issued_at", "expires_at"):
            moment: datetime = getattr(self, name)
            if moment.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
            set_(self, name, moment.astimezone(UTC))
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must come after issued_at")


def dump_claims(claims: ChallengeClaims) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the same claims give the same bytes."""
    body = {
        "version": claims.version,
        "challengeId": claims.challenge_id,
        "tenantId": claims.tenant_id,
        "deviceId": claims.device_id,
        "userId": claims.user_id,
        "profileId": claims.profile_id,
        "requestId": claims.request_id,
        "subject": claims.expected_subject,
        "sans": [[kind, value] for kind, value in claims.expected_sans],
        "ekus": list(claims.expected_ekus),
        "keyUsage": sorted(claims.expected_key_usage),
        "keyLength": claims.expected_key_length,
        "hashAlgorithm": claims.hash_algorithm,
        "issuedAt": _timestamp(claims.issued_at),
        "expiresAt": _timestamp(claims.expires_at),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_claims(data: bytes) -> ChallengeClaims:
    """The claims `dump_claims` wrote; anything else raises ChallengeDeserializationError.

    Errors name the field, never its value (the plaintext is a secret), and are not chained:
    the causes' messages (json, datetime, the dataclass) could quote the plaintext.
    """
    try:
        parsed: object = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _unreadable("not UTF-8 JSON") from None
    if not isinstance(parsed, dict):
        raise _unreadable("not a JSON object")
    body = cast(dict[str, object], parsed)
    unknown, missing = sorted(set(body) - _FIELDS), sorted(_FIELDS - set(body))
    if unknown or missing:
        raise _unreadable(f"unknown field(s) {unknown}, missing field(s) {missing}")
    user_id = body["userId"]
    try:
        return ChallengeClaims(
            version=_typed(body["version"], int, "version"),
            challenge_id=_typed(body["challengeId"], str, "challengeId"),
            tenant_id=_typed(body["tenantId"], str, "tenantId"),
            device_id=_typed(body["deviceId"], str, "deviceId"),
            user_id=None if user_id is None else _typed(user_id, str, "userId"),
            profile_id=_typed(body["profileId"], str, "profileId"),
            request_id=_typed(body["requestId"], str, "requestId"),
            expected_subject=_typed(body["subject"], str, "subject"),
            expected_sans=tuple(_san(item) for item in _typed(body["sans"], list, "sans")),
            expected_ekus=tuple(
                _typed(oid, str, "ekus") for oid in _typed(body["ekus"], list, "ekus")
            ),
            expected_key_usage=frozenset(
                cast(KeyUsage, _choice(usage, _KEY_USAGES, "keyUsage"))
                for usage in _typed(body["keyUsage"], list, "keyUsage")
            ),
            expected_key_length=_typed(body["keyLength"], int, "keyLength"),
            hash_algorithm=cast(
                HashAlgorithm, _choice(body["hashAlgorithm"], _HASHES, "hashAlgorithm")
            ),
            issued_at=_time(body["issuedAt"], "issuedAt"),
            expires_at=_time(body["expiresAt"], "expiresAt"),
        )
    except ValueError as exc:
        raise _unreadable(f"invalid claims: {_field_named(str(exc))}") from None


_FIELDS = frozenset(
    {"version", "challengeId", "tenantId", "deviceId", "userId", "profileId", "requestId"}
    | {"subject", "sans", "ekus", "keyUsage", "keyLength", "hashAlgorithm"}
    | {"issuedAt", "expiresAt"}
)
_T = TypeVar("_T")


def _typed(value: object, kind: type[_T], key: str) -> _T:
    """`value` if it is a `kind` (a JSON boolean is not an int); else a deserialization error."""
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise _unreadable(f"field {key!r} has the wrong type")


def _choice(value: object, allowed: tuple[str, ...], key: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _unreadable(f"field {key!r} has a value outside {list(allowed)}")
    return value


def _san(item: object) -> tuple[SanType, str]:
    pair = _typed(item, list, "sans")
    if len(pair) != 2:
        raise _unreadable("field 'sans' holds something other than [type, value] pairs")
    return cast(SanType, _choice(pair[0], _SAN_TYPES, "sans")), _typed(pair[1], str, "sans")


def _time(value: object, key: str) -> datetime:
    try:
        return datetime.fromisoformat(_typed(value, str, key))
    except ValueError:
        raise _unreadable(f"field {key!r} is not an ISO-8601 time") from None


def _field_named(message: str) -> str:
    """The field a ChallengeClaims ValueError is about, or a generic word: never a value."""
    names = {f.name for f in fields(ChallengeClaims)}
    return next((word for word in re.findall(r"\w+", message) if word in names), "a field")


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _unreadable(reason: str) -> ChallengeError:
    return ChallengeError(ErrorCode.CHALLENGE_DESERIALIZATION_ERROR, reason)
