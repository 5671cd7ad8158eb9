"""CSR building and inspection: SAN kinds, EKUs, key usage, the challengePassword's ASN.1 type,
and `inspect_csr` on anything a network peer might send."""

from __future__ import annotations

import subprocess
import warnings

import pytest
from asn1crypto import csr as asn1_csr
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AttributeOID, ExtensionOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.pki import (
    CsrError,
    CsrSpec,
    Eku,
    KeySpec,
    KeyUsageName,
    PrivateKey,
    San,
    build_csr,
    derive_key,
    generate_key,
    inspect_csr,
    read_sid,
    sid_san,
)

SID = "S-1-5-21-1004336348-1177238915-682003330-512"
SUBJECT = x509.Name.from_rfc4514_string("CN=device-42,OU=Devices,O=Contoso")


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return derive_key(KeySpec.rsa(2048), b"csr tests", "device")


@pytest.fixture(scope="module")
def full_der(rsa_key: PrivateKey) -> bytes:
    spec = CsrSpec(
        subject=SUBJECT,
        sans=(San("dns", "device-42.contoso.test"), San("upn", "ada@contoso.test"), sid_san(SID)),
        ekus=(Eku.CLIENT_AUTH, Eku.EMAIL_PROTECTION),
        key_usage=frozenset({"digital_signature", "key_encipherment"}),
        challenge_password="QUJDRA+/=",
    )
    return build_csr(rsa_key, spec).public_bytes(Encoding.DER)


def challenge_value(der: bytes) -> asn1_csr.CRIAttribute:
    info = asn1_csr.CertificationRequest.load(der)["certification_request_info"]
    (attribute,) = [a for a in info["attributes"] if a["type"].native == "challenge_password"]
    return attribute["values"][0]


@pytest.mark.parametrize(
    "san",
    [
        San("dns", "device-42.contoso.test"),
        San("email", "ada@contoso.test"),
        San("uri", "https://contoso.test/devices/42"),
        San("upn", "ada@contoso.test"),
        San("upn", "ädä@contoso.test"),  # a UPN is a UTF8String: non-ASCII must survive
        San("ip", "192.0.2.7"),
        San("ip", "2001:db8::7"),
        sid_san(SID),
    ],
    ids=lambda san: f"{san.kind}:{san.value}",
)
def test_each_san_kind_round_trips(rsa_key: PrivateKey, san: San) -> None:
    der = build_csr(rsa_key, CsrSpec(subject=SUBJECT, sans=(san,))).public_bytes(Encoding.DER)
    info = inspect_csr(der)
    assert info.sans == (san,)
    assert info.sans[0] == (san.kind, san.value)  # plain tuples compare equal


def test_upn_is_an_other_name_holding_a_utf8string(full_der: bytes) -> None:
    san = inspect_csr(full_der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    (other,) = san.value.get_values_for_type(x509.OtherName)
    assert other.type_id.dotted_string == "1.3.6.1.4.1.311.20.2.3"
    assert other.value[0] == 0x0C  # UTF8String tag
    assert other.value[2:] == b"ada@contoso.test"


def test_sid_travels_as_microsoft_tag_uri(full_der: bytes) -> None:
    info = inspect_csr(full_der)
    assert San("uri", f"tag:microsoft.com,2022-09-14:sid:{SID}") in info.sans
    assert read_sid(info.sans) == SID
    with pytest.raises(ValueError, match="not a SID"):
        sid_san("ada")


def test_inspect_reports_everything(full_der: bytes) -> None:
    info = inspect_csr(full_der)
    assert info.subject == SUBJECT
    assert info.subject_text == "CN=device-42,OU=Devices,O=Contoso"
    assert info.ekus == ("1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4")
    expected_usage: frozenset[KeyUsageName] = frozenset({"digital_signature", "key_encipherment"})
    assert info.key_usage == expected_usage
    assert (info.key_kind, info.key_size) == ("rsa", 2048)
    assert info.signature_hash == "sha256"
    assert info.signature_valid is True
    assert (info.challenge_password, info.challenge_tag) == ("QUJDRA+/=", "printable")
    assert "QUJDRA" not in repr(info)
    assert info.basic_constraints is None
    assert info.der == full_der
    ku = info.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert ku.critical is True


def test_openssl_accepts_the_csr(full_der: bytes) -> None:
    result = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-verify", "-noout"],
        input=full_der,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_minimal_csr_has_no_extensions_nor_challenge(rsa_key: PrivateKey) -> None:
    info = inspect_csr(build_csr(rsa_key, CsrSpec(subject=SUBJECT)).public_bytes(Encoding.DER))
    assert info.sans == ()
    assert info.ekus == ()
    assert info.key_usage is None
    assert info.challenge_password is None
    assert info.challenge_tag is None
    assert len(info.extensions) == 0


def test_ec_key_sha384_basic_constraints_and_extra_extension() -> None:
    key = generate_key(KeySpec.ec("P-256"))
    extra = x509.Extension(
        x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2"),  # certificate template name
        False,
        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2"), b"\x1e\x00"),
    )
    spec = CsrSpec(
        subject=x509.Name([]),
        sans=(San("dns", "ec.contoso.test"),),
        basic_constraints=x509.BasicConstraints(ca=False, path_length=None),
        extra_extensions=(extra,),
    )
    info = inspect_csr(build_csr(key, spec, hashes.SHA384()).public_bytes(Encoding.DER))
    assert (info.key_kind, info.key_size, info.signature_hash) == ("ec", 256, "sha384")
    assert info.basic_constraints == x509.BasicConstraints(ca=False, path_length=None)
    assert info.signature_valid is True
    assert info.subject_text == ""
    # RFC 5280 4.2.1.6: an empty subject makes the SAN extension critical
    assert info.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
    assert info.extensions.get_extension_for_oid(extra.oid).value == extra.value


def test_challenge_printable_string_tag(rsa_key: PrivateKey, full_der: bytes) -> None:
    value = challenge_value(full_der)
    assert value.name == "printable_string"
    assert value.chosen.tag == 19
    assert value.native == "QUJDRA+/="


def test_challenge_utf8_string_tag(rsa_key: PrivateKey) -> None:
    spec = CsrSpec(subject=SUBJECT, challenge_password="pässwörd€", challenge_encoding="utf8")
    der = build_csr(rsa_key, spec).public_bytes(Encoding.DER)
    value = challenge_value(der)
    assert value.name == "utf8_string"
    assert value.chosen.tag == 12
    info = inspect_csr(der)
    assert (info.challenge_password, info.challenge_tag) == ("pässwörd€", "utf8")


@pytest.mark.parametrize(
    ("tag", "raw", "expected"),
    [
        (_ASN1Type.IA5String, b"ia5-secret", ("ia5-secret", "ia5")),
        (_ASN1Type.BMPString, "bmp-sécret".encode("utf-16-be"), ("bmp-sécret", "bmp")),
    ],
)
def test_inspect_tolerates_other_string_types(
    rsa_key: PrivateKey, tag: _ASN1Type, raw: bytes, expected: tuple[str, str]
) -> None:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(SUBJECT)
        .add_attribute(AttributeOID.CHALLENGE_PASSWORD, raw, _tag=tag)
        .sign(rsa_key, hashes.SHA256())
    )
    info = inspect_csr(csr.public_bytes(Encoding.DER))
    assert (info.challenge_password, info.challenge_tag) == expected


@pytest.mark.parametrize("password", ["p@ss", "naïve", "under_score", "semi;colon", "a*b"])
def test_printable_challenge_with_other_characters_is_refused(password: str) -> None:
    with pytest.raises(ValueError, match="cannot be encoded as a PrintableString") as caught:
        CsrSpec(subject=SUBJECT, challenge_password=password)
    assert password not in str(caught.value)  # the message may be logged: never the secret
    CsrSpec(subject=SUBJECT, challenge_password=password, challenge_encoding="utf8")  # fine


def test_spec_refuses_bad_values() -> None:
    assert "s3cret" not in repr(CsrSpec(subject=SUBJECT, challenge_password="s3cret"))
    with pytest.raises(ValueError, match="empty"):
        CsrSpec(subject=SUBJECT, challenge_password="")
    with pytest.raises(ValueError, match="unknown key usage"):
        CsrSpec(subject=SUBJECT, key_usage=frozenset({"sign"}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot build"):
        CsrSpec(subject=SUBJECT, sans=(("x400", "x"),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        CsrSpec(subject=SUBJECT, sans=(San("ip", "not-an-ip"),))
    with pytest.raises(ValueError, match="SHA-2"):
        build_csr(generate_key(KeySpec.ec()), CsrSpec(subject=SUBJECT), hashes.SHA1())


def test_tampered_signature_does_not_verify(full_der: bytes) -> None:
    tampered = full_der[:-1] + bytes([full_der[-1] ^ 0x01])
    info = inspect_csr(tampered)
    assert info.signature_valid is False
    assert info.challenge_password == "QUJDRA+/="


def test_every_truncation_raises_csr_error(full_der: bytes) -> None:
    for length in range(len(full_der)):
        with pytest.raises(CsrError):
            inspect_csr(full_der[:length])


def test_trailing_garbage_and_non_csr_der_raise_csr_error(full_der: bytes) -> None:
    with pytest.raises(CsrError, match="PKCS#10"):
        inspect_csr(full_der + b"\x00")
    with pytest.raises(CsrError):
        inspect_csr(b"\x30\x03\x02\x01\x00")  # a SEQUENCE { INTEGER 0 }
    assert issubclass(CsrError, ValueError)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_csr_error(data: bytes) -> None:
    with pytest.raises(CsrError):
        inspect_csr(data)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_mutated_csr_gives_info_or_csr_error(full_der: bytes, data: st.DataObject) -> None:
    mutated = bytearray(full_der)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    try:
        info = inspect_csr(bytes(mutated))
    except CsrError:
        return
    if info.signature_valid:  # a mutation the signature covers cannot still verify
        original = x509.load_der_x509_csr(full_der).tbs_certrequest_bytes
        assert info.csr.tbs_certrequest_bytes == original


def test_rsa_key_size_is_reported_for_other_sizes() -> None:
    key = derive_key(KeySpec.rsa(1024), b"csr tests", "small")
    assert isinstance(key, rsa.RSAPrivateKey)
    info = inspect_csr(build_csr(key, CsrSpec(subject=SUBJECT)).public_bytes(Encoding.DER))
    assert (info.key_kind, info.key_size) == ("rsa", 1024)


def test_malformed_but_decodable_name_is_reported_without_warning() -> None:
    # cryptography warns on a one-letter countryName; pytest turns warnings into errors here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "X", _validate=False)])
    der = build_csr(generate_key(KeySpec.ec()), CsrSpec(subject=name)).public_bytes(Encoding.DER)
    assert inspect_csr(der).subject_text == "C=X"
