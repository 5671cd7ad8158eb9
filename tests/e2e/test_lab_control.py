"""`scep-lab clock`, `scep-lab fault` and `scep-lab reset` against a running `scep-lab up`: an
expired challenge after the clock moves 61 minutes (and a fresh one works), a validation fault
armed for one call, and reset refusing a running lab then deleting a stopped one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from lab import driver
from lab.challenge import request_spec
from lab.procs import wait_http
from shared import scep
from tests.support.labproc import new_lab, scep_lab, start_up, stop_up

from .intune_support import device_key

pytestmark = pytest.mark.e2e


def _enrol(scep_url: str, found: dict[str, object]) -> scep.CertRepResult:
    async def run() -> scep.CertRepResult:
        async with httpx.AsyncClient(timeout=60) as client:
            ca = await driver.fetch_ca_info(client, scep_url)
            spec = request_spec(found)  # type: ignore[arg-type]
            return (await driver.request(client, scep_url, ca, device_key(), spec)).result  # type: ignore[arg-type]

    return asyncio.run(run())


def _challenge(data: Path) -> dict[str, object]:
    got = scep_lab("challenge", "--data", data, "--json")
    assert got.returncode == 0, got.stderr
    found: dict[str, object] = json.loads(got.stdout)
    return found


def test_clock_fault_and_reset(tmp_path: Path) -> None:
    data = tmp_path / "lab"
    state = new_lab(data)
    proc = start_up(data)
    try:
        wait_http(f"{state.url('ndes')}/health", timeout=120, proc=proc)
        stale = _challenge(data)
        moved = scep_lab("clock", "--data", data, "advance", "61m")
        assert moved.returncode == 0 and "61.0 min ahead" in moved.stdout, moved.stdout
        for party in ("ca", "ndes", "ndes_general", "connector"):  # one shared clock in `up`
            assert f"  {party}: 61.0 min ahead" in moved.stdout, moved.stdout
        expired = _enrol(state.scep_url, stale)
        assert expired.status is scep.PkiStatus.FAILURE
        assert (expired.hresult or 0) & 0xFFFFFFFF == 0x80070057
        fresh = _enrol(state.scep_url, _challenge(data))  # the next check-in's challenge
        assert fresh.status is scep.PkiStatus.SUCCESS

        armed = scep_lab("fault", "inject", "--data", data, "validation", "--times", "1")
        assert armed.returncode == 0, armed.stdout
        down = _enrol(state.scep_url, _challenge(data))
        assert (down.hresult or 0) & 0xFFFFFFFF == 0x800706BA  # the cloud "unavailable"
        again = _enrol(state.scep_url, _challenge(data))  # the fault was for one call
        assert again.status is scep.PkiStatus.SUCCESS
        assert "no fault armed" in scep_lab("fault", "list", "--data", data).stdout

        running = scep_lab("reset", "--data", data, "--yes")
        assert running.returncode == 1 and data.exists()
    finally:
        assert stop_up(proc) == 0, (data / "up.log").read_text()[-3000:]
    assert "ChallengeExpired" in (data / "up.log").read_text()
    gone = scep_lab("reset", "--data", data, "--yes")
    assert gone.returncode == 0, gone.stdout
    assert not data.exists()
