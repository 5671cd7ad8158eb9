"""`scep-lab scenario list` and `scep-lab scenario run --all` against a running `scep-lab up`:
every verdict holds (each scenario checks its own outcome: see lab/scenarios/catalogue.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.procs import wait_http
from lab.scenarios import SCENARIOS
from tests.support.labproc import new_lab, scep_lab, start_up, stop_up

pytestmark = pytest.mark.e2e


def test_every_scenario_passes_against_the_running_lab(tmp_path: Path) -> None:
    listed = scep_lab("scenario", "list")
    assert listed.returncode == 0
    lines = listed.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # name, then description

    data = tmp_path / "lab"
    state = new_lab(data)
    proc = start_up(data)
    try:
        wait_http(f"{state.url('ndes')}/health", timeout=120, proc=proc)
        unknown = scep_lab("scenario", "run", "--data", data, "no-such-scenario")
        assert unknown.returncode == 2
        ran = scep_lab("scenario", "run", "--data", data, "--all", timeout=600)
    finally:
        assert stop_up(proc) == 0, (data / "up.log").read_text()[-3000:]
    assert ran.returncode == 0, ran.stdout[-4000:]
    assert f"{len(SCENARIOS)} of {len(SCENARIOS)} passed" in ran.stdout
    assert ran.stdout.count("PASS ") == len(SCENARIOS) and "FAIL " not in ran.stdout
