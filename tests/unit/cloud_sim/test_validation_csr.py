"""The decision table, steps 11-15: does the CSR ask for what the challenge expects? One real
CSR and one real sealed challenge per Intune code (see validation.py)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from cloud_sim.domain import ChallengeKeys, ErrorCode, parse_subject
from shared.pki import Eku, San

from .factory import (
    check,
    code_of,
    make_claims,
    sealed_request,
)


async def test_an_empty_subject_is_subject_name_missing(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    assert await code_of(keys, device_key, subject=x509.Name([])) is ErrorCode.SUBJECT_NAME_MISSING


@pytest.mark.parametrize(
    "subject",
    [
        "CN=eve,OU=Users,O=Contoso",
        "CN=Ada,OU=Users,O=Contoso",  # values are compared exactly
        "CN=ada,O=Contoso",
        "OU=Users,CN=ada,O=Contoso",  # RDN order counts
        "CN=ada+OU=Users,O=Contoso",
        "CN=ada,OU=Users,O=Contoso,C=US",
    ],
)
async def test_another_subject_is_subject_name_mismatch(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey, subject: str
) -> None:
    assert await code_of(keys, device_key, subject=parse_subject(subject)) is (
        ErrorCode.SUBJECT_NAME_MISMATCH
    )


async def test_a_subject_without_an_expected_one_is_a_mismatch(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    claims = {"expected_subject": ""}
    assert await code_of(keys, device_key, claims, subject=parse_subject("CN=ada")) is (
        ErrorCode.SUBJECT_NAME_MISMATCH
    )
    assert await code_of(keys, device_key, claims, subject=x509.Name([])) is ErrorCode.SUCCESS


def cn(value: str) -> x509.NameAttribute[str]:
    return x509.NameAttribute(NameOID.COMMON_NAME, value)


async def test_an_escaped_comma_fails_like_the_real_one(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    # the profile escapes the comma; Windows' CertStrToName does not read "\," as an escape
    template = r"CN=Test User (TestCompany\, LLC),OU=Users,DC=corp"
    claims = {"expected_subject": parse_subject(template).rfc4514_string()}
    whole = x509.Name([cn(template.removeprefix("CN="))])  # what the connector's log shows
    backslash = x509.Name(
        [
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "corp"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Users"),
            cn(r"Test User (TestCompany\, LLC)"),
        ]
    )
    for subject in (whole, backslash):
        assert await code_of(keys, device_key, claims, subject=subject) is (
            ErrorCode.SUBJECT_NAME_MISMATCH
        )
    # the documented workaround, quoting, is the same name; a device that gets it right passes
    quoted = parse_subject('CN="Test User (TestCompany, LLC)",OU=Users,DC=corp')
    assert await code_of(keys, device_key, claims, subject=quoted) is ErrorCode.SUCCESS


async def test_the_subject_string_type_does_not_matter(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso", _ASN1Type.PrintableString),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Users", _ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.COMMON_NAME, "ada", _ASN1Type.PrintableString),
        ]
    )
    assert await code_of(keys, device_key, subject=subject) is ErrorCode.SUCCESS


async def test_no_sans_is_subject_alt_name_missing(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    assert await code_of(keys, device_key, sans=()) is ErrorCode.SUBJECT_ALT_NAME_MISSING


@pytest.mark.parametrize(
    "sans",
    [
        (San("upn", "eve@contoso.test"), San("email", "ada@contoso.test")),
        (San("upn", "ada@contoso.test"), San("email", "ada@contoso.test")),  # one missing
        (  # one too many: Intune's SANs, plus another identity
            San("upn", "ada@contoso.test"),
            San("email", "ada@contoso.test"),
            San(
                "uri",
                "tag:microsoft.com,2022-09-14:sid:S-1-5-21-3623811015-3361044348-30300820-1013",
            ),
            San("upn", "administrator@contoso.test"),
        ),
        (San("upn", "ADA@contoso.test"), San("email", "ada@contoso.test")),
    ],
)
async def test_other_sans_are_subject_alt_name_mismatch(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey, sans: tuple[San, ...]
) -> None:
    assert await code_of(keys, device_key, sans=sans) is ErrorCode.SUBJECT_ALT_NAME_MISMATCH


async def test_sans_compare_as_a_set_and_dns_names_without_case(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    claims = {"expected_sans": (("dns", "laptop-7.contoso.test"), ("upn", "ada@contoso.test"))}
    sans = (San("upn", "ada@contoso.test"), San("dns", "LAPTOP-7.Contoso.test"))
    assert await code_of(keys, device_key, claims, sans=sans) is ErrorCode.SUCCESS


async def test_sans_where_none_are_expected_are_a_mismatch(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    claims = {"expected_sans": ()}
    sans = (San("upn", "administrator@contoso.test"),)
    assert await code_of(keys, device_key, claims, sans=sans) is ErrorCode.SUBJECT_ALT_NAME_MISMATCH


async def test_no_ekus_is_enhanced_key_usage_missing(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    assert await code_of(keys, device_key, ekus=()) is ErrorCode.ENHANCED_KEY_USAGE_MISSING


@pytest.mark.parametrize(
    "ekus",
    [
        (Eku.CLIENT_AUTH.value,),  # one fewer
        (Eku.CLIENT_AUTH.value, Eku.EMAIL_PROTECTION.value, Eku.SMART_CARD_LOGON.value),  # more
        (Eku.SERVER_AUTH.value, Eku.EMAIL_PROTECTION.value),
        (Eku.ANY.value,),
    ],
)
async def test_other_ekus_are_enhanced_key_usage_mismatch(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey, ekus: tuple[str, ...]
) -> None:
    assert await code_of(keys, device_key, ekus=ekus) is ErrorCode.ENHANCED_KEY_USAGE_MISMATCH


async def test_ekus_in_another_order_match(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    ekus = (Eku.EMAIL_PROTECTION.value, Eku.CLIENT_AUTH.value)
    assert await code_of(keys, device_key, ekus=ekus) is ErrorCode.SUCCESS


@pytest.mark.parametrize(
    "key_usage",
    [
        frozenset({"digital_signature"}),  # would pick NDES's signature template
        frozenset({"key_encipherment"}),
        frozenset({"digital_signature", "key_encipherment", "data_encipherment"}),
        None,  # no keyUsage extension
    ],
)
async def test_other_key_usage_is_key_usage_mismatch(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey, key_usage: frozenset[str] | None
) -> None:
    assert await code_of(keys, device_key, key_usage=key_usage) is ErrorCode.KEY_USAGE_MISMATCH


async def test_another_key_size_is_key_length_mismatch(
    keys: ChallengeKeys, small_key: rsa.RSAPrivateKey
) -> None:
    verdict = await check(keys, sealed_request(keys, small_key, make_claims()))
    assert verdict.code is ErrorCode.KEY_LENGTH_MISMATCH
    assert "1024" in verdict.detail


async def test_a_key_that_is_not_rsa_is_key_length_mismatch(
    keys: ChallengeKeys, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    request = sealed_request(keys, ec_key, make_claims(expected_key_length=256))
    assert (await check(keys, request)).code is ErrorCode.KEY_LENGTH_MISMATCH


async def test_unrelated_extensions_are_not_rejected(
    keys: ChallengeKeys, device_key: rsa.RSAPrivateKey
) -> None:
    # DJ's arbitrary SID security extension (szOID_NTDS_CA_SECURITY_EXT) passed the real one
    sid_extension = x509.Extension(
        x509.ObjectIdentifier("1.3.6.1.4.1.311.25.2"),
        False,
        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.311.25.2"), b"\x30\x00"),
    )
    basic = x509.Extension(x509.BasicConstraints.oid, True, x509.BasicConstraints(False, None))
    code = await code_of(
        keys,
        device_key,
        extra_extensions=(sid_extension,),
        basic_constraints=basic.value,
    )
    assert code is ErrorCode.SUCCESS
