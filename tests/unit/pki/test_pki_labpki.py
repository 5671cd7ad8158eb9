"""The declarative lab PKI: reproducible, reusable, checked by OpenSSL, strict about bad files."""

from __future__ import annotations

import itertools
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from shared.pki import (
    CertSpec,
    Eku,
    KeySpec,
    KeyUsageName,
    LabCert,
    LabPki,
    LabPkiError,
    LabPkiSpec,
    UnknownLabel,
    build_lab_pki,
    default_lab_spec,
    read_key_usage,
)

SEED = b"lab pki tests"
NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
HOSTNAMES = ("cloud.lab.test", "10.1.2.3")


@pytest.fixture(scope="module")
def spec() -> LabPkiSpec:
    return default_lab_spec(SEED, NOT_BEFORE, HOSTNAMES)


@pytest.fixture(scope="module")
def pki(spec: LabPkiSpec, tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    return build_lab_pki(spec, tmp_path_factory.mktemp("lab-a"))


@pytest.fixture
def small_spec() -> LabPkiSpec:
    """Three EC certificates: cheap to derive, for the tests that spoil files."""
    ec = KeySpec.ec()
    ca_usage: frozenset[KeyUsageName] = frozenset({"key_cert_sign", "crl_sign"})
    return LabPkiSpec(
        seed=SEED,
        not_before=NOT_BEFORE,
        certs=(
            CertSpec("root", _name("CN=Root"), key=ec, is_ca=True, key_usage=ca_usage),
            CertSpec("leaf", _name("CN=Leaf"), "root", ec),
            CertSpec("other", _name("CN=Other"), "root", ec),
        ),
    )


def _name(text: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(text)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        path.name: (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino)
        for path in sorted(folder.iterdir())
    }


def test_default_spec_has_every_party_certificate(pki: LabPki) -> None:
    assert set(pki.labels) == {label.value for label in LabCert}
    expected_files = {f"{label}.pem" for label in LabCert} | {
        f"{label}.key.pem" for label in LabCert
    }
    assert {path.name for path in pki.folder.iterdir()} == expected_files
    subjects = {label: pki.cert(label).subject.rfc4514_string() for label in pki.labels}
    assert subjects[LabCert.ROOT_CA] == "CN=Lab Enterprise Root CA,O=Lab"
    assert subjects[LabCert.ISSUING_CA] == "CN=Lab Issuing CA,O=Lab"
    assert subjects[LabCert.INTUNE_CONNECTOR_CA] == "CN=Microsoft Intune ImportPFX Connector CA"
    assert subjects[LabCert.INTUNE_MDM_DEVICE_CA] == "CN=Microsoft Intune MDM Device CA"
    assert subjects[LabCert.NDES_RA_SIGN] == "CN=NDES-RA-Signing,O=Lab"


def test_two_builds_of_one_spec_are_byte_identical(
    pki: LabPki, spec: LabPkiSpec, tmp_path: Path
) -> None:
    again = build_lab_pki(spec, tmp_path / "lab-b")
    first = {path.name: path.read_bytes() for path in pki.folder.iterdir()}
    second = {path.name: path.read_bytes() for path in again.folder.iterdir()}
    assert first == second


def test_another_seed_gives_other_keys_and_serials(small_spec: LabPkiSpec, tmp_path: Path) -> None:
    first = build_lab_pki(small_spec, tmp_path / "a")
    other = build_lab_pki(LabPkiSpec(b"another seed", NOT_BEFORE, small_spec.certs), tmp_path / "b")
    for label in first.labels:
        assert first.key(label).public_key() != other.key(label).public_key()
        assert first.cert(label).serial_number != other.cert(label).serial_number
        assert first.cert(label).subject == other.cert(label).subject


def test_rebuilding_an_existing_folder_leaves_it_untouched(pki: LabPki, spec: LabPkiSpec) -> None:
    before = _snapshot(pki.folder)
    rebuilt = build_lab_pki(spec, pki.folder)
    assert _snapshot(pki.folder) == before
    for label in pki.labels:
        assert rebuilt.cert(label) == pki.cert(label)


def test_every_chain_verifies(pki: LabPki) -> None:
    for label in pki.labels:
        chain = pki.chain(label)
        for cert, issuer in itertools.pairwise(chain):
            cert.verify_directly_issued_by(issuer)
        chain[-1].verify_directly_issued_by(chain[-1])  # ends at a self-signed root
    assert [c.subject.rfc4514_string() for c in pki.chain(LabCert.NDES_RA_SIGN)] == [
        "CN=NDES-RA-Signing,O=Lab",
        "CN=Lab Issuing CA,O=Lab",
        "CN=Lab Enterprise Root CA,O=Lab",
    ]
    assert pki.chain_pem(LabCert.TLS_SERVER, include_root=False).count(b"BEGIN CERT") == 1


@pytest.mark.parametrize(
    ("leaf", "untrusted", "root"),
    [
        (LabCert.NDES_RA_SIGN, LabCert.ISSUING_CA, LabCert.ROOT_CA),
        (LabCert.NDES_RA_ENCRYPT, LabCert.ISSUING_CA, LabCert.ROOT_CA),
        (LabCert.NDES_ENROLLMENT_AGENT, LabCert.ISSUING_CA, LabCert.ROOT_CA),
        (LabCert.INTUNE_CHALLENGE_SIGN, None, LabCert.INTUNE_CHALLENGE_CA),
        (LabCert.TLS_SERVER, None, LabCert.TLS_ROOT),
    ],
)
def test_openssl_verifies_the_chain(
    pki: LabPki, leaf: LabCert, untrusted: LabCert | None, root: LabCert
) -> None:
    command = ["openssl", "verify", "-attime", "1767225600", "-CAfile", str(pki.path(root))]
    if untrusted is not None:
        command += ["-untrusted", str(pki.path(untrusted))]
    result = subprocess.run([*command, str(pki.path(leaf))], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_openssl_refuses_a_leaf_under_the_wrong_root(pki: LabPki) -> None:
    command = ["openssl", "verify", "-CAfile", str(pki.path(LabCert.TLS_ROOT))]
    result = subprocess.run(
        [*command, str(pki.path(LabCert.NDES_RA_SIGN))], capture_output=True, text=True
    )
    assert result.returncode != 0


def test_ra_certificates_have_exactly_one_key_usage_each(pki: LabPki) -> None:
    def usage(label: LabCert) -> frozenset[str]:
        ext = pki.cert(label).extensions.get_extension_for_class(x509.KeyUsage)
        assert ext.critical
        return read_key_usage(ext.value)

    def ekus(label: LabCert) -> list[str]:
        ext = pki.cert(label).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        return [oid.dotted_string for oid in ext.value]

    assert usage(LabCert.NDES_RA_SIGN) == {"digital_signature"}
    assert usage(LabCert.NDES_RA_ENCRYPT) == {"key_encipherment"}
    assert usage(LabCert.NDES_ENROLLMENT_AGENT) == {"digital_signature"}
    for label in (LabCert.NDES_RA_SIGN, LabCert.NDES_RA_ENCRYPT, LabCert.NDES_ENROLLMENT_AGENT):
        assert ekus(label) == ["1.3.6.1.4.1.311.20.2.1"]
    assert usage(LabCert.INTUNE_CHALLENGE_SIGN) == {"digital_signature"}
    assert usage(LabCert.INTUNE_CHALLENGE_ENCRYPT) == {"key_encipherment"}
    assert (
        pki.cert(LabCert.NDES_RA_SIGN).public_key()
        != pki.cert(LabCert.NDES_ENROLLMENT_AGENT).public_key()
    )


def test_ca_profiles_and_validities(pki: LabPki) -> None:
    def constraints(label: LabCert) -> x509.BasicConstraints:
        return pki.cert(label).extensions.get_extension_for_class(x509.BasicConstraints).value

    def years(label: LabCert) -> float:
        cert = pki.cert(label)
        return (cert.not_valid_after_utc - cert.not_valid_before_utc) / timedelta(days=365)

    assert constraints(LabCert.ROOT_CA) == x509.BasicConstraints(ca=True, path_length=None)
    assert constraints(LabCert.ISSUING_CA) == x509.BasicConstraints(ca=True, path_length=0)
    assert (years(LabCert.ROOT_CA), years(LabCert.ISSUING_CA)) == (20, 10)
    assert years(LabCert.NDES_RA_SIGN) == 2
    assert pki.cert(LabCert.ROOT_CA).not_valid_before_utc == NOT_BEFORE
    for label in pki.labels:
        assert pki.key(label).public_key() == pki.cert(label).public_key()
        assert pki.cert(label).signature_hash_algorithm is not None
        assert KeySpec.rsa(2048) == pki.spec.get(label).key


def test_tls_server_names(pki: LabPki) -> None:
    cert = pki.cert(LabCert.TLS_SERVER)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "cloud.lab.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.1.2.3"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [oid.dotted_string for oid in eku] == [Eku.SERVER_AUTH]
    assert cert.subject.rfc4514_string() == "CN=cloud.lab.test,O=Lab"


def test_key_files_are_private(pki: LabPki) -> None:
    for label in pki.labels:
        assert stat.S_IMODE(pki.key_path(label).stat().st_mode) == 0o600
        assert pki.key_path(label).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert stat.S_IMODE(pki.path(label).stat().st_mode) == 0o644


def test_unknown_label(pki: LabPki) -> None:
    with pytest.raises(UnknownLabel, match="no certificate labelled 'nope'") as caught:
        pki.cert("nope")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, LabPkiError)


def test_ca_base_url_adds_aia_and_cdp() -> None:
    spec = default_lab_spec(SEED, NOT_BEFORE, ca_base_url="http://127.0.0.1:8090/")
    issuing = spec.get(LabCert.ISSUING_CA)
    assert issuing.aia_urls == ("http://127.0.0.1:8090/pki/root-ca.crt",)
    assert issuing.cdp_urls == ("http://127.0.0.1:8090/pki/root-ca.crl",)
    assert spec.get(LabCert.NDES_RA_SIGN).cdp_urls == ("http://127.0.0.1:8090/pki/issuing-ca.crl",)
    assert spec.get(LabCert.ROOT_CA).aia_urls == ()
    assert spec.get(LabCert.TLS_SERVER).aia_urls == ()


def test_a_corrupt_key_file_stops_the_build(small_spec: LabPkiSpec, tmp_path: Path) -> None:
    build_lab_pki(small_spec, tmp_path)
    (tmp_path / "leaf.key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(LabPkiError, match=r"'leaf'.*leaf\.key\.pem.*not an unencrypted"):
        build_lab_pki(small_spec, tmp_path)


def test_a_mismatched_key_file_stops_the_build(small_spec: LabPkiSpec, tmp_path: Path) -> None:
    build_lab_pki(small_spec, tmp_path)
    shutil.copy(tmp_path / "other.key.pem", tmp_path / "leaf.key.pem")
    with pytest.raises(LabPkiError, match="does not match the certificate"):
        build_lab_pki(small_spec, tmp_path)


def test_a_certificate_from_another_issuer_stops_the_build(
    small_spec: LabPkiSpec, tmp_path: Path
) -> None:
    build_lab_pki(small_spec, tmp_path)
    other = LabPkiSpec(b"other seed", NOT_BEFORE, small_spec.certs)
    build_lab_pki(other, tmp_path / "other")
    for name in ("leaf.pem", "leaf.key.pem"):
        shutil.copy(tmp_path / "other" / name, tmp_path / name)
    with pytest.raises(LabPkiError, match="not issued by CN=Root"):
        build_lab_pki(small_spec, tmp_path)


@pytest.mark.parametrize("missing", ["leaf.pem", "leaf.key.pem"])
def test_half_a_pair_is_completed_when_it_is_what_the_spec_derives(
    small_spec: LabPkiSpec, tmp_path: Path, missing: str
) -> None:
    build_lab_pki(small_spec, tmp_path)
    before = (tmp_path / missing).read_bytes()
    (tmp_path / missing).unlink()
    build_lab_pki(small_spec, tmp_path)
    assert (tmp_path / missing).read_bytes() == before


def test_half_a_pair_that_is_not_the_specs_stops_the_build(
    small_spec: LabPkiSpec, tmp_path: Path
) -> None:
    build_lab_pki(small_spec, tmp_path)
    (tmp_path / "leaf.pem").unlink()
    shutil.copy(tmp_path / "other.key.pem", tmp_path / "leaf.key.pem")
    with pytest.raises(LabPkiError, match="not the key this spec derives"):
        build_lab_pki(small_spec, tmp_path)


def test_spec_validation() -> None:
    root = CertSpec("root", _name("CN=R"), is_ca=True, key=KeySpec.ec())
    leaf = CertSpec("leaf", _name("CN=L"), "root", KeySpec.ec())
    with pytest.raises(LabPkiError, match="declared twice"):
        LabPkiSpec(SEED, NOT_BEFORE, (root, root))
    with pytest.raises(LabPkiError, match="declared before it"):
        LabPkiSpec(SEED, NOT_BEFORE, (leaf, root))
    with pytest.raises(LabPkiError, match="not a CA"):
        LabPkiSpec(SEED, NOT_BEFORE, (root, leaf, CertSpec("x", _name("CN=X"), "leaf")))
    with pytest.raises(LabPkiError, match="timezone-aware"):
        LabPkiSpec(SEED, datetime(2025, 1, 1), (root,))
    with pytest.raises(LabPkiError, match="names files"):
        CertSpec("../evil", _name("CN=E"))


def test_the_ndes_host_and_policy_module_certificates(pki: LabPki) -> None:
    def ekus(label: LabCert) -> list[str]:
        ext = pki.cert(label).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        return [oid.dotted_string for oid in ext.value]

    host = pki.cert(LabCert.NDES_HOST_TLS)
    san = host.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "ndes.lab.test" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert ekus(LabCert.NDES_HOST_TLS) == ["1.3.6.1.5.5.7.3.1"]
    assert ekus(LabCert.NDES_POLICY_MODULE) == ["1.3.6.1.5.5.7.3.2"]
    for label in (LabCert.NDES_HOST_TLS, LabCert.NDES_POLICY_MODULE):
        assert pki.cert(label).issuer == pki.cert(LabCert.ISSUING_CA).subject
