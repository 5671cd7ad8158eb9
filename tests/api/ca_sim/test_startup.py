"""Start-up: settings from the environment, the CA's key files checked with a clear message,
`python -m ca_sim` refusing bad files, and /health."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ca_sim.__main__ import main
from ca_sim.authority import load_authority, parse_serial, serial_hex
from ca_sim.errors import CaConfigError, MalformedInput
from ca_sim.settings import CaSettings
from shared.pki import LabCert, LabPki

from .support import BASE_URL


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CA_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("CA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CA_PORT", "9100")
    monkeypatch.setenv("CA_PUBLIC_BASE_URL", "http://ca.lab.test:9100/")

    settings = CaSettings()  # type: ignore[call-arg]

    assert settings.port == 9100
    assert settings.host == "127.0.0.1"
    assert settings.admin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.public_base_url == "http://ca.lab.test:9100"
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'ca.db'}"
    assert settings.effective_pki_dir == tmp_path / "pki"
    assert settings.crl_validity.total_seconds() == 168 * 3600


@pytest.mark.parametrize(
    ("name", "value"),
    [("CA_ADMIN_TOKEN", " "), ("CA_PUBLIC_BASE_URL", "ca.lab.test"), ("CA_PORT", "0")],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv("CA_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        CaSettings()  # type: ignore[call-arg]


def copy_ca_files(lab_pki: LabPki, to: Path) -> Path:
    to.mkdir()
    for label in (LabCert.ROOT_CA, LabCert.ISSUING_CA):
        shutil.copy(lab_pki.path(label), to)
        shutil.copy(lab_pki.key_path(label), to)
    return to


def test_missing_and_mismatched_key_files_are_named(lab_pki: LabPki, tmp_path: Path) -> None:
    folder = copy_ca_files(lab_pki, tmp_path / "pki")
    assert load_authority(folder, BASE_URL).issuing_cert == lab_pki.cert(LabCert.ISSUING_CA)

    (folder / "issuing-ca.key.pem").unlink()
    with pytest.raises(CaConfigError, match=r"issuing-ca\.key\.pem: private key file not found"):
        load_authority(folder, BASE_URL)

    shutil.copy(lab_pki.key_path(LabCert.NDES_RA_SIGN), folder / "issuing-ca.key.pem")
    with pytest.raises(CaConfigError, match="does not match the certificate"):
        load_authority(folder, BASE_URL)


def test_an_issuing_ca_from_another_root_is_refused(lab_pki: LabPki, tmp_path: Path) -> None:
    folder = copy_ca_files(lab_pki, tmp_path / "pki")
    for suffix in (".pem", ".key.pem"):
        shutil.copy(lab_pki.folder / f"tls-root{suffix}", folder / f"root-ca{suffix}")
    with pytest.raises(CaConfigError, match="not issued by the root CA"):
        load_authority(folder, BASE_URL)


def test_python_m_ca_sim_stops_on_bad_key_files(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lab_pki: LabPki,
    tmp_path: Path,
) -> None:
    folder = copy_ca_files(lab_pki, tmp_path / "pki")
    (folder / "root-ca.pem").write_text("not a certificate\n")
    monkeypatch.setenv("CA_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("CA_PKI_DIR", str(folder))
    monkeypatch.setenv("CA_DATA_DIR", str(tmp_path / "data"))

    assert main() == 2

    err = capsys.readouterr().err
    assert "ca_sim: the CA's key files are not usable" in err
    assert "root-ca.pem: not a PEM or DER certificate" in err


def test_python_m_ca_sim_needs_an_admin_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CA_ADMIN_TOKEN", raising=False)
    assert main() == 2
    assert "admin_token" in capsys.readouterr().err


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["ca"] == "CN=Lab Issuing CA,O=Lab"
    assert "IntuneDeviceCert" in body["templates"]


@given(st.integers(min_value=1, max_value=(1 << 160) - 1), st.sampled_from(["", "0x", "0X"]))
def test_serials_read_back_however_they_are_typed(serial: int, prefix: str) -> None:
    canonical = serial_hex(serial)
    assert len(canonical) % 2 == 0
    assert int(canonical, 16) == serial
    spaced = " ".join(canonical.upper()[i : i + 2] for i in range(0, len(canonical), 2))
    colons = ":".join(canonical[i : i + 2] for i in range(0, len(canonical), 2))
    for typed in (canonical, canonical.upper(), spaced, colons, "00" + canonical):
        assert parse_serial(prefix + typed) == canonical


@pytest.mark.parametrize("typed", ["", "0", "xyz", "01" * 21])
def test_bad_serials(typed: str) -> None:
    with pytest.raises(MalformedInput):
        parse_serial(typed)
