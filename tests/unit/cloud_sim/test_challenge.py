"""Sealing and opening the challenge: each broken layer has its own Intune code."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cloud_sim.domain import (
    ChallengeError,
    ChallengeKeys,
    ErrorCode,
    dump_claims,
    open_challenge,
    seal_challenge,
)
from shared.pki import LabCert, LabPki
from shared.scep.envelope import encrypt
from shared.scep.signed import sign
from shared.scep.types import ContentCipher, Digest

from .factory import TENANT, make_claims

PRINTABLE_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def open_code(keys: ChallengeKeys, text: str | None) -> ErrorCode:
    with pytest.raises(ChallengeError) as caught:
        keys.open(text)
    return caught.value.code


def rsa_key(pki: LabPki, label: str) -> rsa.RSAPrivateKey:
    key = pki.key(label)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_a_sealed_challenge_opens_to_the_same_claims(keys: ChallengeKeys) -> None:
    claims = make_claims()
    text = seal_challenge(
        claims, sign_cert=keys.sign_cert, sign_key=keys.sign_key, encrypt_cert=keys.encrypt_cert
    )
    opened = open_challenge(
        text, sign_cert=keys.sign_cert, encrypt_cert=keys.encrypt_cert, encrypt_key=keys.encrypt_key
    )
    assert opened == claims
    assert opened.challenge_id == claims.challenge_id


def test_device_certificate_claims_round_trip_without_a_user(keys: ChallengeKeys) -> None:
    claims = make_claims(user_id=None, expected_sans=(), expected_subject="CN=laptop-7")
    assert keys.open(keys.seal(claims)) == claims


def test_the_challenge_is_printable_string_safe_and_opaque(keys: ChallengeKeys) -> None:
    claims = make_claims(tenant_id=TENANT, expected_subject="CN=very-visible-subject")
    text = keys.seal(claims)
    assert PRINTABLE_BASE64.fullmatch(text)
    der = base64.b64decode(text)
    for secret in (TENANT, "very-visible-subject", claims.challenge_id, "ada@contoso.test"):
        assert secret not in text
        assert secret.encode() not in der
    assert keys.seal(claims) != text  # a fresh content key and IV each time


def test_nothing_secret_shows_in_reprs(keys: ChallengeKeys) -> None:
    claims = make_claims()
    assert claims.challenge_id not in repr(claims)
    assert "RSAPrivateKey" not in repr(keys)


@pytest.mark.parametrize("text", [None, ""])
def test_no_challenge_is_challenge_password_missing(keys: ChallengeKeys, text: str | None) -> None:
    assert open_code(keys, text) is ErrorCode.CHALLENGE_PASSWORD_MISSING


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",
        "QUJD",  # base64 of "ABC": not DER
        "YWJj ZA==",
        "abc",  # bad padding
        "é",
        base64.b64encode(b"\x30\x03\x02\x01\x01").decode(),  # DER, not a ContentInfo
    ],
)
def test_text_that_is_not_base64_der_signed_data_is_a_decoding_error(
    keys: ChallengeKeys, text: str
) -> None:
    assert open_code(keys, text) is ErrorCode.CHALLENGE_DECODING_ERROR


def test_an_envelope_that_is_not_signed_is_a_decoding_error(keys: ChallengeKeys) -> None:
    envelope = encrypt(
        dump_claims(make_claims()), [keys.encrypt_cert], cipher=ContentCipher.AES_256_CBC
    )
    assert (
        open_code(keys, base64.b64encode(envelope).decode()) is ErrorCode.CHALLENGE_DECODING_ERROR
    )


def test_tampering_with_any_byte_never_yields_other_claims(keys: ChallengeKeys) -> None:
    claims = make_claims()
    der = bytearray(base64.b64decode(keys.seal(claims)))
    codes = set()
    for index in range(0, len(der), 3):
        tampered = bytearray(der)
        tampered[index] ^= 0x01
        try:
            opened = keys.open(base64.b64encode(tampered).decode())
        except ChallengeError as exc:
            codes.add(exc.code)
        else:
            assert opened == claims  # an unsigned, unused byte (e.g. the outer digest set)
    assert codes <= {ErrorCode.SIGNATURE_VALIDATION_FAILED, ErrorCode.CHALLENGE_DECODING_ERROR}
    assert codes == {ErrorCode.SIGNATURE_VALIDATION_FAILED, ErrorCode.CHALLENGE_DECODING_ERROR}


def test_tampering_with_the_encrypted_claims_fails_the_signature(keys: ChallengeKeys) -> None:
    der = bytearray(base64.b64decode(keys.seal(make_claims())))
    der[len(der) // 3] ^= 0xFF  # inside the EnvelopedData, which the signature covers
    assert open_code(keys, base64.b64encode(der).decode()) is ErrorCode.SIGNATURE_VALIDATION_FAILED


def test_a_challenge_signed_by_another_key_fails_the_signature(
    keys: ChallengeKeys, lab_pki: LabPki
) -> None:
    other = LabCert.NDES_RA_SIGN
    text = seal_challenge(
        make_claims(),
        sign_cert=lab_pki.cert(other),
        sign_key=rsa_key(lab_pki, other),
        encrypt_cert=keys.encrypt_cert,
    )
    assert open_code(keys, text) is ErrorCode.SIGNATURE_VALIDATION_FAILED


def test_a_forger_naming_our_certificate_fails_the_signature(
    keys: ChallengeKeys, lab_pki: LabPki
) -> None:
    # signed with another key, but carrying (and naming) only the real signing certificate
    envelope = encrypt(dump_claims(make_claims()), [keys.encrypt_cert])
    forged = sign(
        envelope,
        (),
        signer=keys.sign_cert,
        key=rsa_key(lab_pki, LabCert.NDES_RA_SIGN),
        digest=Digest.SHA256,
        certificates=[keys.sign_cert],
    )
    assert open_code(keys, base64.b64encode(forged).decode()) is (
        ErrorCode.SIGNATURE_VALIDATION_FAILED
    )


def test_a_sha1_signature_is_not_ours(keys: ChallengeKeys) -> None:
    envelope = encrypt(dump_claims(make_claims()), [keys.encrypt_cert])
    signed = sign(envelope, (), signer=keys.sign_cert, key=keys.sign_key, digest=Digest.SHA1)
    assert open_code(keys, base64.b64encode(signed).decode()) is (
        ErrorCode.SIGNATURE_VALIDATION_FAILED
    )


def test_a_challenge_encrypted_to_another_certificate_cannot_be_decrypted(
    keys: ChallengeKeys, lab_pki: LabPki
) -> None:
    text = seal_challenge(
        make_claims(),
        sign_cert=keys.sign_cert,
        sign_key=keys.sign_key,
        encrypt_cert=lab_pki.cert(LabCert.NDES_RA_ENCRYPT),
    )
    assert open_code(keys, text) is ErrorCode.CHALLENGE_DECRYPTION_ERROR


def test_signed_content_that_is_no_envelope_cannot_be_decrypted(keys: ChallengeKeys) -> None:
    signed = sign(b"plain text", (), signer=keys.sign_cert, key=keys.sign_key, digest=Digest.SHA256)
    assert open_code(keys, base64.b64encode(signed).decode()) is (
        ErrorCode.CHALLENGE_DECRYPTION_ERROR
    )


def test_challenge_keys_refuse_a_key_that_is_not_the_certificates(lab_pki: LabPki) -> None:
    sign, encrypt = LabCert.INTUNE_CHALLENGE_SIGN, LabCert.INTUNE_CHALLENGE_ENCRYPT
    with pytest.raises(ValueError, match="does not match"):
        ChallengeKeys.load(
            (lab_pki.cert(sign), lab_pki.key(encrypt)),
            (lab_pki.cert(encrypt), lab_pki.key(encrypt)),
        )
