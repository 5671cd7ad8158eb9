"""The decision table, steps 1-10: the CSR, the challenge, time, tenant, device, user, reuse,
assignment. One real CSR and one real sealed challenge per Intune code (see validation.py)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cloud_sim.domain import ChallengeKeys, ErrorCode, parse_subject, seal_payload
from shared.pki import LabCert, LabPki

from .factory import (
    DEVICE,
    NOW,
    PROFILE,
    TENANT,
    FakeLookup,
    check,
    code_of,
    csr_der,
    make_claims,
    sealed_request,
    spec_for,
)


async def test_a_request_that_matches_its_challenge_succeeds(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    claims = make_claims()
    lookup = FakeLookup()
    verdict = await check(keys, sealed_request(keys, device_key, claims), lookup)
    assert verdict.ok
    assert verdict.code is ErrorCode.SUCCESS
    assert verdict.description == ErrorCode.SUCCESS.description
    assert verdict.claims == claims
    assert verdict.csr is not None and verdict.csr.key_size == 2048
    assert lookup.asked == [
        "device_exists",
        "user_matches",
        "challenge_used",
        "is_profile_targeted",
    ]
    assert claims.challenge_id not in lookup.used  # validate only reads


async def test_the_base64_certificate_request_of_the_wire_is_accepted(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    der = sealed_request(keys, device_key, make_claims())
    assert (await check(keys, base64.b64encode(der).decode())).ok


@pytest.mark.parametrize("request_", [b"", b"\x30\x03\x02\x01\x00", b"garbage", "not base64!"])
async def test_an_undecodable_csr_is_certificate_request_decoding_failed(
    keys: ChallengeKeys, request_: bytes | str
) -> None:
    verdict = await check(keys, request_)
    assert verdict.code is ErrorCode.CERTIFICATE_REQUEST_DECODING_FAILED
    assert verdict.csr is None and verdict.claims is None


async def test_a_csr_whose_signature_fails_is_certificate_request_decoding_failed(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    der = bytearray(sealed_request(keys, device_key, make_claims()))
    der[-1] ^= 0x01  # the last byte of the signature
    verdict = await check(keys, bytes(der))
    assert verdict.code is ErrorCode.CERTIFICATE_REQUEST_DECODING_FAILED
    assert "signature" in verdict.detail


async def test_a_csr_without_challenge_is_challenge_password_missing(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    assert await code_of(keys, device_key, challenge_password=None) is (
        ErrorCode.CHALLENGE_PASSWORD_MISSING
    )


async def test_a_challenge_that_is_no_cms_is_challenge_decoding_error(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    # what the general SCEP workflow's one-time password looks like
    assert await code_of(keys, device_key, challenge_password="5F2A8C0B91D4E7A3") is (
        ErrorCode.CHALLENGE_DECODING_ERROR
    )


async def test_a_challenge_signed_by_someone_else_is_signature_validation_failed(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey, lab_pki: LabPki
) -> None:
    forger = lab_pki.key(LabCert.NDES_RA_SIGN)
    assert isinstance(forger, rsa.RSAPrivateKey)
    text = seal_payload(
        b"{}",
        sign_cert=lab_pki.cert(LabCert.NDES_RA_SIGN),
        sign_key=forger,
        encrypt_cert=keys.encrypt_cert,
    )
    assert await code_of(keys, device_key, challenge_password=text) is (
        ErrorCode.SIGNATURE_VALIDATION_FAILED
    )


async def test_a_challenge_for_another_recipient_is_challenge_decryption_error(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey, lab_pki: LabPki
) -> None:
    text = seal_payload(
        b"{}",
        sign_cert=keys.sign_cert,
        sign_key=keys.sign_key,
        encrypt_cert=lab_pki.cert(LabCert.NDES_RA_ENCRYPT),
    )
    assert await code_of(keys, device_key, challenge_password=text) is (
        ErrorCode.CHALLENGE_DECRYPTION_ERROR
    )


async def test_unreadable_claims_are_challenge_deserialization_error(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    text = seal_payload(
        b"<CertEnrollChallenge/>",
        sign_cert=keys.sign_cert,
        sign_key=keys.sign_key,
        encrypt_cert=keys.encrypt_cert,
    )
    verdict = await check(keys, csr_der(device_key, spec_for(make_claims(), text)))
    assert verdict.code is ErrorCode.CHALLENGE_DESERIALIZATION_ERROR
    assert verdict.csr is not None and verdict.claims is None


async def test_a_challenge_from_the_future_is_challenge_invalid_timestamp(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    future = {
        "issued_at": NOW + timedelta(minutes=5, seconds=1),
        "expires_at": NOW + timedelta(hours=1),
    }
    assert await code_of(keys, device_key, future) is ErrorCode.CHALLENGE_INVALID_TIMESTAMP
    skewed = {"issued_at": NOW + timedelta(minutes=5), "expires_at": NOW + timedelta(hours=1)}
    assert await code_of(keys, device_key, skewed) is ErrorCode.SUCCESS  # within 5 minutes


async def test_a_challenge_past_its_expiry_is_challenge_expired(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    issued = NOW - timedelta(hours=1)
    expired = {"issued_at": issued, "expires_at": NOW - timedelta(microseconds=1)}
    assert await code_of(keys, device_key, expired) is ErrorCode.CHALLENGE_EXPIRED
    last_moment = {"issued_at": issued, "expires_at": NOW}
    assert await code_of(keys, device_key, last_moment) is ErrorCode.SUCCESS


async def test_a_challenge_of_another_tenant_is_bad_tenant_id(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    request = sealed_request(keys, device_key, make_claims())
    other = await check(keys, request, caller_tenant_id="00000000-0000-0000-0000-000000000001")
    assert other.code is ErrorCode.BAD_TENANT_ID_IN_CHALLENGE
    assert other.claims is not None  # the cloud can still say which device failed
    assert (await check(keys, request, caller_tenant_id=TENANT.upper())).ok  # GUIDs: any case


async def test_an_unknown_device_is_bad_device_id(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    lookup = FakeLookup(devices=set())
    assert await code_of(keys, device_key, lookup=lookup) is ErrorCode.BAD_DEVICE_ID_IN_CHALLENGE


async def test_a_user_who_is_not_the_devices_is_bad_user_id(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    lookup = FakeLookup(users={(TENANT, DEVICE): "u-somebody-else"})
    assert await code_of(keys, device_key, lookup=lookup) is ErrorCode.BAD_USER_ID_IN_CHALLENGE


async def test_a_device_certificate_has_no_user_to_check(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    lookup = FakeLookup(users={})
    claims = make_claims(user_id=None)
    verdict = await check(keys, sealed_request(keys, device_key, claims), lookup)
    assert verdict.ok
    assert "user_matches" not in lookup.asked


async def test_a_used_challenge_is_bad_certificate_request_id(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    claims = make_claims()
    request = sealed_request(keys, device_key, claims)
    lookup = FakeLookup(used={claims.challenge_id})
    verdict = await check(keys, request, lookup)
    assert verdict.code is ErrorCode.BAD_CERTIFICATE_REQUEST_ID_IN_CHALLENGE
    assert (await check(keys, request, lookup, allow_reuse=True)).ok


async def test_an_unassigned_profile_is_no_longer_targeted(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    lookup = FakeLookup(targeted=set())
    assert await code_of(keys, device_key, lookup=lookup) is (
        ErrorCode.SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT
    )


async def test_the_earliest_failure_decides_and_the_store_is_not_asked_in_vain(
    keys: ChallengeKeys, small_key: rsa.RSAPrivateKey
) -> None:
    # expired, another tenant, unknown device, wrong subject and key size all at once
    expired = {"issued_at": NOW - timedelta(hours=2), "expires_at": NOW - timedelta(hours=1)}
    request = sealed_request(
        keys, small_key, make_claims(**expired), subject=parse_subject("CN=eve")
    )
    lookup = FakeLookup(devices=set())
    verdict = await check(keys, request, lookup, caller_tenant_id="another")
    assert verdict.code is ErrorCode.CHALLENGE_EXPIRED
    assert lookup.asked == []


async def test_profile_targeting_is_checked_before_the_csr_contents(
    keys: ChallengeKeys, small_key: rsa.RSAPrivateKey
) -> None:
    request = sealed_request(keys, small_key, make_claims(), subject=parse_subject("CN=eve"))
    verdict = await check(keys, request, FakeLookup(targeted={(DEVICE, "p-other")}))
    assert verdict.code is ErrorCode.SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT
    assert verdict.claims is not None and verdict.claims.profile_id == PROFILE


async def test_now_must_be_aware(keys: ChallengeKeys) -> None:
    with pytest.raises(ValueError, match="aware"):
        await check(keys, b"", now=NOW.replace(tzinfo=None))
