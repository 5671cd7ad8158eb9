"""The claims: validated on construction, canonical JSON, and every way the JSON inside a genuine
(signed and encrypted) challenge can be unreadable: ChallengeDeserializationError, never quoting
the plaintext."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta, timezone
from typing import Any

import pytest

from cloud_sim.domain import (
    ChallengeClaims,
    ChallengeError,
    ChallengeKeys,
    ErrorCode,
    dump_claims,
    load_claims,
    seal_payload,
)

from .factory import NOW, make_claims


def open_code(keys: ChallengeKeys, text: str | None) -> ErrorCode:
    with pytest.raises(ChallengeError) as caught:
        keys.open(text)
    return caught.value.code


def test_claims_serialize_canonically() -> None:
    claims = make_claims(expected_key_usage=frozenset({"key_encipherment", "digital_signature"}))
    data = dump_claims(claims)
    assert data == dump_claims(replace(claims))
    assert b": " not in data and b", " not in data  # compact separators
    body = json.loads(data)
    assert list(body) == sorted(body)
    assert body["keyUsage"] == ["digital_signature", "key_encipherment"]
    assert body["issuedAt"] == "2026-03-01T11:50:00Z"
    assert load_claims(data) == claims


def seal_raw(keys: ChallengeKeys, payload: bytes) -> str:
    return seal_payload(
        payload, sign_cert=keys.sign_cert, sign_key=keys.sign_key, encrypt_cert=keys.encrypt_cert
    )


def claims_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(dump_claims(make_claims()))
    body.update(changes)
    return body


GARBAGE = [
    b"garbage",
    b"\xff\xfe not utf-8",
    b"[1, 2, 3]",
    b'"a string"',
    b"{}",
    json.dumps({k: v for k, v in claims_body().items() if k != "deviceId"}).encode(),
    json.dumps(claims_body(extra="field")).encode(),
    json.dumps(claims_body(keyLength="2048")).encode(),
    json.dumps(claims_body(keyLength=True)).encode(),
    json.dumps(claims_body(userId=7)).encode(),
    json.dumps(claims_body(sans=[["dns"]])).encode(),
    json.dumps(claims_body(sans=[["ip", "10.0.0.1"]])).encode(),
    json.dumps(claims_body(ekus=["not an oid"])).encode(),
    json.dumps(claims_body(keyUsage=["crl_sign"])).encode(),
    json.dumps(claims_body(keyUsage=[])).encode(),
    json.dumps(claims_body(hashAlgorithm="md5")).encode(),
    json.dumps(claims_body(version=2)).encode(),
    json.dumps(claims_body(issuedAt="yesterday")).encode(),
    json.dumps(claims_body(issuedAt="2026-03-01T11:50:00")).encode(),  # naive
    json.dumps(claims_body(expiresAt="2026-03-01T11:00:00Z")).encode(),  # before issuedAt
    json.dumps(claims_body(subject="not a name")).encode(),
    json.dumps(claims_body(tenantId="")).encode(),
]
"""Claims that are not claims (ids by position: some carry a fresh challenge ID each run)."""


@pytest.mark.parametrize("payload", GARBAGE, ids=[f"garbage-{i}" for i in range(len(GARBAGE))])
def test_signed_and_encrypted_garbage_is_a_deserialization_error(
    keys: ChallengeKeys, payload: bytes
) -> None:
    assert open_code(keys, seal_raw(keys, payload)) is ErrorCode.CHALLENGE_DESERIALIZATION_ERROR


@pytest.mark.parametrize(
    "changes",
    [
        {"issuedAt": "SECRET-MARKER"},
        {"subject": "SECRET-MARKER"},
        {"ekus": ["SECRET-MARKER"]},
        {"hashAlgorithm": "SECRET-MARKER"},
        {"sans": [["SECRET-MARKER", "x"]]},
    ],
)
def test_errors_never_quote_the_plaintext(keys: ChallengeKeys, changes: dict[str, Any]) -> None:
    with pytest.raises(ChallengeError) as caught:
        keys.open(seal_raw(keys, json.dumps(claims_body(**changes)).encode()))
    error = caught.value
    assert error.code is ErrorCode.CHALLENGE_DESERIALIZATION_ERROR
    assert "SECRET-MARKER" not in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_error_messages_start_with_the_codes_description(keys: ChallengeKeys) -> None:
    with pytest.raises(ChallengeError) as caught:
        keys.open(seal_raw(keys, b"{}"))
    assert str(caught.value).startswith(ErrorCode.CHALLENGE_DESERIALIZATION_ERROR.description)
    assert "missing" in caught.value.reason


@pytest.mark.parametrize(
    "changes",
    [
        {"tenant_id": ""},
        {"user_id": ""},
        {"expected_key_length": 0},
        {"expected_key_usage": frozenset()},
        {"expected_sans": (("ip", "10.0.0.1"),)},
        {"expected_ekus": ("clientAuth",)},
        {"expected_subject": "CN="},
        {"issued_at": NOW.replace(tzinfo=None)},
        {"expires_at": NOW - timedelta(hours=1)},
        {"version": 2},
    ],
)
def test_claims_validate_on_construction(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        make_claims(**changes)


def test_claims_keep_times_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    claims = make_claims(issued_at=NOW.astimezone(plus_two))
    assert claims.issued_at == NOW
    assert claims.issued_at.utcoffset() == timedelta(0)


def test_challenge_ids_are_random() -> None:
    assert make_claims().challenge_id != make_claims().challenge_id


def test_challenge_claims_is_frozen() -> None:
    claims: ChallengeClaims = make_claims()
    with pytest.raises(AttributeError):
        claims.tenant_id = "other"  # type: ignore[misc]
