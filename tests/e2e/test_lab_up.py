"""`scep-lab up` runs every party in one process on loopback; `status` and `otp` find it through
the data folder; SIGINT stops it cleanly; a second `up` on the same folder keeps the state."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lab.home import load_or_create_state, save_state
from lab.procs import free_port, wait_http
from tests.support.clients import have_scepclient, run_scepclient

pytestmark = pytest.mark.e2e


def _scep_lab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _up(data: Path) -> subprocess.Popen[bytes]:
    log = open(data / "up.log", "ab")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "up", "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise


@pytest.mark.skipif(not have_scepclient(), reason="scepclient not installed")
def test_up_status_otp_stop_and_restart(tmp_path: Path) -> None:
    data = tmp_path / "lab"
    state = load_or_create_state(data)
    state.ports.ca, state.ports.ndes, state.ports.cloud = free_port(), free_port(), free_port()
    save_state(data, state)

    proc = _up(data)
    try:
        wait_http(f"{state.url('ndes')}/health", timeout=120, proc=proc)
        status = _scep_lab("status", "--data", str(data))
        assert status.returncode == 0, status.stdout + status.stderr
        otp = _scep_lab("otp", "--data", str(data))
        assert otp.returncode == 0, otp.stdout + otp.stderr
        password = otp.stdout.strip()
        assert re.fullmatch(r"[0-9A-F]{16}", password)
        enrolled = run_scepclient(
            state.scep_url, tmp_path / "client", cn="lab-up-device", challenge=password
        )
        assert enrolled.ok, enrolled.describe()
    finally:
        assert _stop(proc) == 0, (data / "up.log").read_text()[-3000:]

    down = _scep_lab("status", "--data", str(data))
    assert down.returncode == 1
    ra_files = {p: p.read_bytes() for p in sorted((data / "ndes").rglob("*.pem"))}
    assert ra_files, "NDES kept no RA certificates in its data folder"
    serial = f"{enrolled.load_certificate().serial_number:x}"

    proc = _up(data)
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
        assert _stop(proc) == 0


def test_status_without_a_lab(tmp_path: Path) -> None:
    result = _scep_lab("status", "--data", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "scep-lab up" in result.stdout
