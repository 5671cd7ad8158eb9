"""`scep-lab up` runs every party in one process on loopback; `status` and `otp` find it through
the data folder; SIGINT stops it cleanly; a second `up` on the same folder keeps the state."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from lab.procs import wait_http
from tests.support.clients import have_scepclient, run_scepclient
from tests.support.labproc import new_lab, scep_lab, start_up, stop_up

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(not have_scepclient(), reason="scepclient not installed")
def test_up_status_otp_stop_and_restart(tmp_path: Path) -> None:
    data = tmp_path / "lab"
    state = new_lab(data, policy="otp")

    proc = start_up(data, "--policy", "otp")
    try:
        wait_http(f"{state.url('ndes')}/health", timeout=120, proc=proc)
        status = scep_lab("status", "--data", str(data))
        assert status.returncode == 0, status.stdout + status.stderr
        otp = scep_lab("otp", "--data", str(data))
        assert otp.returncode == 0, otp.stdout + otp.stderr
        password = otp.stdout.strip()
        assert re.fullmatch(r"[0-9A-F]{16}", password)
        enrolled = run_scepclient(
            state.scep_url, tmp_path / "client", cn="lab-up-device", challenge=password
        )
        assert enrolled.ok, enrolled.describe()
    finally:
        assert stop_up(proc) == 0, (data / "up.log").read_text()[-3000:]

    down = scep_lab("status", "--data", str(data))
    assert down.returncode == 1
    ra_files = {p: p.read_bytes() for p in sorted((data / "ndes").rglob("*.pem"))}
    assert ra_files, "NDES kept no RA certificates in its data folder"
    serial = f"{enrolled.load_certificate().serial_number:x}"

    proc = start_up(data, "--policy", "otp")
    try:
        wait_http(f"{state.url('ndes')}/health", timeout=120, proc=proc)
        assert {p: p.read_bytes() for p in sorted((data / "ndes").rglob("*.pem"))} == ra_files
        listed = httpx.get(
            f"{state.url('ca')}/ca/requests",
            params={"disposition": "20", "limit": "500"},
            headers={"authorization": f"Bearer {state.ca_admin_token}"},
            timeout=10,
        )
        assert listed.status_code == 200, listed.text
        assert serial in {entry["serialNumber"] for entry in listed.json()}
    finally:
        assert stop_up(proc) == 0


def test_status_without_a_lab(tmp_path: Path) -> None:
    result = scep_lab("status", "--data", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "scep-lab up" in result.stdout


def test_up_refuses_a_data_folder_of_an_earlier_format(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    (data / "lab.json").write_text('{"seed": "000102030405060708090a0b0c0d0e0f"}')
    result = scep_lab("up", "--data", data)
    assert result.returncode == 2
    assert "earlier intune-scep-lab" in result.stdout
    assert not (data / "cloud").exists()  # nothing started, nothing written
