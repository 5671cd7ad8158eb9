"""Issuance: key identifiers, AIA/CDP, chains, validity, serials, fingerprints, the SCEP signer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

from shared.pki import (
    CertProfile,
    Eku,
    KeySpec,
    KeyUsageName,
    PrivateKey,
    San,
    build_self_signed_signer,
    derive_key,
    fingerprint,
    issue_certificate,
    new_serial,
    read_key_usage,
    serial_from,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
CA_USAGE: frozenset[KeyUsageName] = frozenset({"digital_signature", "key_cert_sign", "crl_sign"})
AIA = "http://127.0.0.1:8090/pki/issuing-ca.crt"
CDP = "http://127.0.0.1:8090/pki/issuing-ca.crl"


def name(text: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(text)


@dataclass(frozen=True)
class Chain:
    root_key: PrivateKey
    root: x509.Certificate
    issuing_key: PrivateKey
    issuing: x509.Certificate
    leaf_key: PrivateKey
    leaf: x509.Certificate


@pytest.fixture(scope="module")
def chain() -> Chain:
    root_key = derive_key(KeySpec.rsa(2048), b"issue tests", "root")
    issuing_key = derive_key(KeySpec.ec("P-384"), b"issue tests", "issuing")
    leaf_key = derive_key(KeySpec.ec(), b"issue tests", "leaf")
    root = issue_certificate(
        subject=name("CN=Test Root,O=Lab"),
        public_key=root_key.public_key(),
        issuer_cert=None,
        issuer_key=root_key,
        serial=serial_from(b"issue tests", "root"),
        not_before=NOW,
        profile=CertProfile(validity=timedelta(days=3650), key_usage=CA_USAGE, is_ca=True),
    )
    issuing = issue_certificate(
        subject=name("CN=Test Issuing,O=Lab"),
        public_key=issuing_key.public_key(),
        issuer_cert=root,
        issuer_key=root_key,
        serial=new_serial(),
        not_before=NOW,
        profile=CertProfile(
            validity=timedelta(days=1825), key_usage=CA_USAGE, is_ca=True, path_length=0
        ),
    )
    leaf = issue_certificate(
        subject=name("CN=device-1"),
        public_key=leaf_key.public_key(),
        issuer_cert=issuing,
        issuer_key=issuing_key,
        serial=new_serial(),
        not_before=NOW,
        profile=CertProfile(
            validity=timedelta(days=365),
            key_usage=frozenset({"digital_signature"}),
            ekus=(Eku.CLIENT_AUTH,),
            aia_urls=(AIA,),
            cdp_urls=(CDP,),
        ),
        sans=(San("dns", "device-1.contoso.test"), San("upn", "ada@contoso.test")),
        hash=hashes.SHA384(),
    )
    return Chain(root_key, root, issuing_key, issuing, leaf_key, leaf)


def test_chain_verifies(chain: Chain) -> None:
    chain.leaf.verify_directly_issued_by(chain.issuing)
    chain.issuing.verify_directly_issued_by(chain.root)
    chain.root.verify_directly_issued_by(chain.root)
    with pytest.raises(ValueError, match="does not match"):
        chain.leaf.verify_directly_issued_by(chain.root)


def test_key_identifiers_link_each_certificate_to_its_issuer(chain: Chain) -> None:
    def ski(cert: x509.Certificate) -> bytes:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def aki(cert: x509.Certificate) -> bytes | None:
        ext = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
        return ext.value.key_identifier

    for cert in (chain.root, chain.issuing, chain.leaf):
        expected = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        assert ski(cert) == expected
    assert aki(chain.root) == ski(chain.root)
    assert aki(chain.issuing) == ski(chain.root)
    assert aki(chain.leaf) == ski(chain.issuing)


def test_aia_and_cdp_only_when_the_profile_names_urls(chain: Chain) -> None:
    aia = chain.leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, AIA)
    ]
    cdp = chain.leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [point.full_name[0].value for point in cdp if point.full_name] == [CDP]
    present = {ext.oid for ext in chain.issuing.extensions}
    assert ExtensionOID.AUTHORITY_INFORMATION_ACCESS not in present
    assert ExtensionOID.CRL_DISTRIBUTION_POINTS not in present


def test_profile_bits_land_in_the_certificate(chain: Chain) -> None:
    constraints = chain.issuing.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    leaf_exts = chain.leaf.extensions
    with pytest.raises(x509.ExtensionNotFound):
        leaf_exts.get_extension_for_class(x509.BasicConstraints)
    ku = leaf_exts.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert read_key_usage(ku.value) == {"digital_signature"}
    eku = leaf_exts.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [oid.dotted_string for oid in eku] == [Eku.CLIENT_AUTH]
    san = leaf_exts.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["device-1.contoso.test"]
    assert chain.leaf.signature_hash_algorithm is not None
    assert chain.leaf.signature_hash_algorithm.name == "sha384"
    assert chain.leaf.not_valid_before_utc == NOW
    assert chain.leaf.not_valid_after_utc == NOW + timedelta(days=365)


def test_not_after_is_capped_at_the_issuers(chain: Chain) -> None:
    cert = issue_certificate(
        subject=name("CN=long"),
        public_key=chain.leaf_key.public_key(),
        issuer_cert=chain.issuing,
        issuer_key=chain.issuing_key,
        serial=new_serial(),
        not_before=NOW,
        profile=CertProfile(validity=timedelta(days=99999)),
    )
    assert cert.not_valid_after_utc == chain.issuing.not_valid_after_utc


def test_fixed_subject_overrides_the_request(chain: Chain) -> None:
    fixed = name("CN=fixed")
    cert = issue_certificate(
        subject=name("CN=requested"),
        public_key=chain.leaf_key.public_key(),
        issuer_cert=chain.issuing,
        issuer_key=chain.issuing_key,
        serial=new_serial(),
        not_before=NOW,
        profile=CertProfile(validity=timedelta(days=1), fixed_subject=fixed),
    )
    assert cert.subject == fixed


def test_issuance_is_deterministic_for_rsa_and_ec_issuers(chain: Chain) -> None:
    def issue(issuer: x509.Certificate | None, key: PrivateKey) -> bytes:
        cert = issue_certificate(
            subject=name("CN=same"),
            public_key=chain.leaf_key.public_key() if issuer else key.public_key(),
            issuer_cert=issuer,
            issuer_key=key,
            serial=12345,
            not_before=NOW,
            profile=CertProfile(validity=timedelta(days=30)),
        )
        return cert.public_bytes(Encoding.DER)

    assert issue(chain.root, chain.root_key) == issue(chain.root, chain.root_key)  # RSA
    assert issue(chain.issuing, chain.issuing_key) == issue(chain.issuing, chain.issuing_key)
    assert issue(None, chain.leaf_key) == issue(None, chain.leaf_key)  # self-signed EC


def test_bad_arguments_are_refused(chain: Chain) -> None:
    args = {
        "subject": name("CN=x"),
        "public_key": chain.leaf_key.public_key(),
        "issuer_cert": chain.issuing,
        "issuer_key": chain.issuing_key,
        "serial": 1,
        "not_before": NOW,
        "profile": CertProfile(validity=timedelta(days=1)),
    }
    with pytest.raises(ValueError, match="timezone-aware"):
        issue_certificate(**{**args, "not_before": datetime(2025, 1, 1)})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="serial"):
        issue_certificate(**{**args, "serial": 0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="serial"):
        issue_certificate(**{**args, "serial": 1 << 159})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not match"):
        issue_certificate(**{**args, "issuer_key": chain.root_key})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="own key"):
        issue_certificate(**{**args, "issuer_cert": None})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path_length"):
        CertProfile(validity=timedelta(days=1), path_length=0)
    with pytest.raises(ValueError, match="positive"):
        CertProfile(validity=timedelta(0))


def test_serials() -> None:
    serials = {new_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(s.bit_length() == 159 for s in serials)
    assert serial_from(b"seed", "a") == serial_from(b"seed", "a")
    assert serial_from(b"seed", "a") != serial_from(b"seed", "b")
    assert serial_from(b"see", "da") != serial_from(b"seed", "a")
    assert serial_from(b"seed", "a").bit_length() == 159


def test_fingerprints(chain: Chain) -> None:
    der = chain.root.public_bytes(Encoding.DER)
    assert fingerprint(chain.root) == hashlib.sha256(der).hexdigest().upper()
    assert fingerprint(chain.root, hashes.SHA1()) == hashlib.sha1(der).hexdigest().upper()
    md5 = fingerprint(chain.root, hashes.MD5())
    assert md5 == hashlib.md5(der).hexdigest().upper()
    assert len(md5) == 32


def test_self_signed_signer_for_pkcsreq() -> None:
    key = derive_key(KeySpec.rsa(1024), b"issue tests", "device")
    subject = name("CN=device-42")
    cert = build_self_signed_signer(key, subject, NOW)
    cert.verify_directly_issued_by(cert)
    assert cert.subject == cert.issuer == subject
    assert cert.public_key() == key.public_key()
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert cert.serial_number.bit_length() == 159
    again = build_self_signed_signer(key, subject, NOW, serial=7)
    assert again.serial_number == 7
    assert again == build_self_signed_signer(key, subject, NOW, serial=7)
