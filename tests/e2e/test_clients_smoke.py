"""Self-tests of the third-party client harness (tests/support) and of the golden vectors.

They prove that the recorder captures real PKIOperations from micromdm ``scepclient`` and from
``certmonger``, that ``run_scepclient`` / ``openssl_verify`` handle a real successful enrolment
(against micromdm's ``scepserver``), and that every vector in ``tests/vectors`` is a SCEP
pkiMessage whose properties match ``tests/vectors/manifest.json``.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) from another folder
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pytest  # noqa: E402
from asn1crypto import cms  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

from tests.support.clients import (  # noqa: E402
    OPENSSL,
    Certmonger,
    MicromdmScepServer,
    have_certmonger,
    have_scepclient,
    have_scepserver,
    openssl_cms_decrypt,
    openssl_cms_extract,
    openssl_verify,
    run_scepclient,
)
from tests.support.recorder import (  # noqa: E402
    RecordedRequest,
    ScepRecorder,
    decode_scep_message_param,
)
from tests.support.testpki import RaSetup, make_ra_setup  # noqa: E402

pytestmark = pytest.mark.e2e

VECTORS = ROOT / "tests" / "vectors"
CHALLENGE = "0123456789ABCDEF"

needs_scepclient = pytest.mark.skipif(
    not have_scepclient(), reason="scepclient not installed (Debian package 'scep')"
)
needs_certmonger = pytest.mark.skipif(
    not have_certmonger(), reason="certmonger/getcert not installed (Debian package 'certmonger')"
)
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")


@pytest.fixture(scope="module")
def ra() -> RaSetup:
    return make_ra_setup()


def _assert_signed_data(req: RecordedRequest) -> cms.ContentInfo:
    assert req.message is not None, "PKIOperation without a decodable message"
    assert req.message[:1] == b"\x30", "pkiMessage is not a DER SEQUENCE"
    info = cms.ContentInfo.load(req.message)
    assert info["content_type"].native == "signed_data"
    return info


def _message_type(info: cms.ContentInfo) -> str:
    for attr in info["content"]["signer_infos"][0]["signed_attrs"]:
        if attr["type"].dotted == "2.16.840.1.113733.1.9.2":
            return str(attr["values"][0].native)
    raise AssertionError("no messageType attribute")


# ---------------------------------------------------------------------------------------------
# recorder basics (no third-party binary needed)
# ---------------------------------------------------------------------------------------------


def test_decode_message_param_alphabets() -> None:
    der = bytes(range(256)) * 3
    std = base64.b64encode(der).decode()
    url = base64.urlsafe_b64encode(der).decode()
    assert decode_scep_message_param(std.replace("+", "%2B").replace("/", "%2F")) == (
        der,
        "base64",
    )
    # unescaped '+' must stay '+', line breaks (%0A) and missing padding are tolerated
    wrapped = "%0A".join(std[i : i + 64] for i in range(0, len(std), 64)).rstrip("=")
    assert decode_scep_message_param(wrapped) == (der, "base64")
    assert decode_scep_message_param(url.replace("=", "%3D")) == (der, "base64url")


def test_recorder_serves_caps_and_cacert(ra: RaSetup) -> None:
    caps = ["POSTPKIOperation", "SHA-256", "AES"]
    with ScepRecorder(ra.getcacert_chain, caps, keep_cert_order=True) as rec:
        with httpx.Client(timeout=10) as client:
            r_caps = client.get(rec.url, params={"operation": "GetCACaps"})
            r_ca = client.get(rec.url, params={"operation": "GetCACert", "message": "x"})
            r_pki = client.post(rec.url, params={"operation": "PKIOperation"}, content=b"\x30\x00")
        assert r_caps.text.split() == caps
        assert r_ca.headers["content-type"] == "application/x-x509-ca-ra-cert"
        certs = cms.ContentInfo.load(r_ca.content)["content"]["certificates"]
        assert [c.chosen.dump() for c in certs] == [
            c.public_bytes(Encoding.DER) for c in ra.getcacert_chain
        ]
        assert r_pki.status_code == 500
        assert rec.pki_operations[0].message == b"\x30\x00"
        assert rec.operations == ["GetCACaps", "GetCACert", "PKIOperation"]


# ---------------------------------------------------------------------------------------------
# real clients against the recorder
# ---------------------------------------------------------------------------------------------


@needs_scepclient
@pytest.mark.parametrize(
    ("caps", "method", "encoding"),
    [
        (["SHA-256", "AES", "DES3"], "GET", "base64url"),
        (["POSTPKIOperation", "SHA-256", "AES"], "POST", "post"),
    ],
    ids=["get", "post"],
)
def test_recorder_captures_scepclient(
    ra: RaSetup, tmp_path: Path, caps: list[str], method: str, encoding: str
) -> None:
    with ScepRecorder(ra.getcacert_chain, caps, keep_cert_order=True) as rec:
        res = run_scepclient(rec.url, tmp_path / "sc", cn="smoke", challenge=CHALLENGE, timeout=60)
        req = rec.wait_for_pki_operation(timeout=5)
    assert res.returncode != 0, res.describe()
    assert res.certificate is None, res.describe()
    assert "500" in res.stdout + res.stderr, res.describe()
    assert res.key_path.exists()
    assert rec.operations == ["GetCACert", "GetCACaps", "PKIOperation"]
    assert (req.method, req.message_encoding) == (method, encoding)
    info = _assert_signed_data(req)
    assert _message_type(info) == "19"


@needs_certmonger
def test_recorder_captures_certmonger(ra: RaSetup, tmp_path: Path) -> None:
    with (
        ScepRecorder(ra.getcacert_chain, ["POSTPKIOperation", "AES", "SHA-256"]) as rec,
        Certmonger(tmp_path / "cm") as cm,
    ):
        ca_info = cm.add_scep_ca("rec", rec.url)
        assert any("thumbprint" in k for k in ca_info), ca_info
        result = cm.request(
            "rec",
            tmp_path / "key.pem",
            tmp_path / "cert.pem",
            "CN=smoke,O=lab",
            CHALLENGE,
            wait=True,
            timeout=60,
        )
        req = rec.wait_for_pki_operation(timeout=30)
        listing = cm.list()
    assert cm.running is False
    assert result.request_id in listing
    assert result.status == "CA_UNREACHABLE", result
    assert result.returncode not in (0, None), result
    assert result.key_path.exists()
    assert not result.cert_path.exists()
    assert (req.method, req.message_encoding) == ("GET", "base64")
    info = _assert_signed_data(req)
    assert _message_type(info) == "19"


# ---------------------------------------------------------------------------------------------
# full enrolment against a known-good server: certificate detection, verify, renewal
# ---------------------------------------------------------------------------------------------


@needs_scepclient
@needs_openssl
@pytest.mark.skipif(not have_scepserver(), reason="scepserver not installed (package 'scep')")
def test_scepclient_enrols_and_renews_against_scepserver(tmp_path: Path) -> None:
    with MicromdmScepServer(tmp_path / "srv", challenge=CHALLENGE) as srv:
        first = run_scepclient(
            srv.url, tmp_path / "dev", cn="smoke-ok", challenge=CHALLENGE, check=True
        )
        assert not first.renewal
        cert = first.load_certificate()
        assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "smoke-ok"
        ok, output = openssl_verify(first.certificate, [srv.ca_cert_path])  # type: ignore[arg-type]
        assert ok, output
        with pytest.raises(ValueError, match="fresh workdir"):
            run_scepclient(srv.url, _stale(tmp_path), cn="x", challenge=CHALLENGE)
        second = run_scepclient(
            srv.url, tmp_path / "dev", cn="smoke-ok", challenge=CHALLENGE, check=True
        )
        assert second.renewal
        assert second.load_certificate().serial_number != cert.serial_number
        bad = run_scepclient(srv.url, tmp_path / "bad", cn="nope", challenge="wrong")
    assert not bad.ok, bad.describe()
    assert bad.returncode != 0, bad.describe()


def _stale(tmp_path: Path) -> Path:
    wd = tmp_path / "stale"
    wd.mkdir()
    (wd / "csr.pem").write_text("cached")
    return wd


# ---------------------------------------------------------------------------------------------
# golden vectors
# ---------------------------------------------------------------------------------------------

_MANIFEST = (
    json.loads((VECTORS / "manifest.json").read_text())
    if (VECTORS / "manifest.json").exists()
    else {"vectors": {}}
)
_VECTOR_FILES = sorted(VECTORS.glob("*.der"))


def test_golden_vectors_present() -> None:
    assert _VECTOR_FILES, f"no *.der vectors in {VECTORS}"
    assert {p.stem for p in _VECTOR_FILES} == set(_MANIFEST["vectors"])


@pytest.mark.parametrize("path", _VECTOR_FILES, ids=lambda p: p.stem)
def test_golden_vector_is_signed_data(path: Path) -> None:
    data = path.read_bytes()
    assert data[:1] == b"\x30"
    info = cms.ContentInfo.load(data)
    assert info["content_type"].native == "signed_data"
    sd = info["content"]
    assert sd["encap_content_info"]["content_type"].native == "data"
    expected = _MANIFEST["vectors"][path.stem]["message"]
    assert _message_type(info) == expected["message_type"]
    assert [a["algorithm"].dotted for a in sd["digest_algorithms"]] == expected["digest_algorithms"]
    envelope = cms.ContentInfo.load(sd["encap_content_info"]["content"].native)
    assert envelope["content_type"].native == "enveloped_data"
    assert len(envelope["content"]["recipient_infos"]) == len(expected["recipient_infos"])


@needs_openssl
@pytest.mark.parametrize("path", _VECTOR_FILES, ids=lambda p: p.stem)
def test_golden_vector_decrypts_with_ra_key(path: Path) -> None:
    envelope = openssl_cms_extract(path)
    inner = openssl_cms_decrypt(
        envelope, VECTORS / "ra-encrypt.key.pem", VECTORS / "ra-encrypt.crt.pem"
    )
    csr = x509.load_der_x509_csr(inner)
    assert csr.is_signature_valid
    challenge = csr.attributes.get_attribute_for_oid(x509.oid.AttributeOID.CHALLENGE_PASSWORD)
    value = challenge.value.decode() if isinstance(challenge.value, bytes) else challenge.value
    assert value == (VECTORS / "challenge.txt").read_text().strip()
    expected = _MANIFEST["vectors"][path.stem]["message"]
    assert csr.subject.rfc4514_string() == expected["csr_subject"]
