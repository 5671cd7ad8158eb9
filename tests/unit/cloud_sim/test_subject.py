"""Subject strings: Intune's X.500 form and RFC 4514, parsed to one name; name equality."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from cloud_sim.domain import SubjectFormatError, parse_subject, same_name


def attributes(name: x509.Name) -> list[list[tuple[str, str | bytes]]]:
    return [[(a.oid.dotted_string, a.value) for a in rdn] for rdn in name.rdns]


@pytest.mark.parametrize(
    "text",
    [
        r"CN=Test User (TestCompany\, LLC),OU=Users,DC=corp",
        'CN="Test User (TestCompany, LLC)",OU=Users,DC=corp',
        'CN="Test User (TestCompany, LLC)", OU=Users; DC=corp',
        'cn = "Test User (TestCompany, LLC)" ,ou=Users,dc=corp',
        r"CN=Test User (TestCompany\2C LLC),OU=Users,DC=corp",
        r"OID.2.5.4.3=Test User (TestCompany\, LLC),2.5.4.11=Users,DC=corp",
    ],
)
def test_quoted_escaped_and_spaced_spellings_give_one_name(text: str) -> None:
    name = parse_subject(text)
    assert attributes(name) == [
        [(NameOID.DOMAIN_COMPONENT.dotted_string, "corp")],
        [(NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string, "Users")],
        [(NameOID.COMMON_NAME.dotted_string, "Test User (TestCompany, LLC)")],
    ]
    assert same_name(parse_subject(name.rfc4514_string()), name)  # round trip


@pytest.mark.parametrize(
    ("keyword", "oid"),
    [
        ("E", NameOID.EMAIL_ADDRESS),
        ("S", NameOID.STATE_OR_PROVINCE_NAME),
        ("ST", NameOID.STATE_OR_PROVINCE_NAME),
        ("T", NameOID.TITLE),
        ("G", NameOID.GIVEN_NAME),
        ("SN", NameOID.SURNAME),
        ("SERIALNUMBER", NameOID.SERIAL_NUMBER),
        ("STREET", NameOID.STREET_ADDRESS),
        ("L", NameOID.LOCALITY_NAME),
        ("UID", NameOID.USER_ID),
    ],
)
def test_microsofts_keywords_are_known(keyword: str, oid: x509.ObjectIdentifier) -> None:
    assert attributes(parse_subject(f"{keyword}=value")) == [[(oid.dotted_string, "value")]]


def test_multi_valued_rdns_and_hex_escapes() -> None:
    name = parse_subject(r"CN=\C3\A9t\C3\A9+OU=a\+b,O=c\"d")
    assert attributes(name) == [
        [(NameOID.ORGANIZATION_NAME.dotted_string, 'c"d')],
        [
            (NameOID.COMMON_NAME.dotted_string, "été"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME.dotted_string, "a+b"),
        ],
    ]


def test_an_empty_string_is_the_empty_name() -> None:
    assert len(parse_subject("")) == 0
    assert len(parse_subject("  ")) == 0


@pytest.mark.parametrize(
    "text",
    [
        "CN",
        "CN=",
        "XX=1",
        'CN="unterminated',
        'CN="a"b',
        r"CN=a\q",
        "CN=a,",
        "=a",
        "CN=" + "x" * 65,
    ],
)
def test_what_is_not_a_name_raises(text: str) -> None:
    with pytest.raises(SubjectFormatError):
        parse_subject(text)


def test_names_compare_by_rdn_sets_in_order_with_exact_values() -> None:
    a = parse_subject("CN=ada+OU=Users,O=Contoso")
    assert same_name(a, parse_subject("OU=Users+CN=ada,O=Contoso"))  # within an RDN: a set
    assert not same_name(a, parse_subject("CN=ada,OU=Users,O=Contoso"))
    assert not same_name(a, parse_subject("CN=Ada+OU=Users,O=Contoso"))
    assert not same_name(a, parse_subject("CN=ada +OU=Users,O=Contoso\\ "))
