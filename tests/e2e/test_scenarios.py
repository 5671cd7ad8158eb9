"""`scep-lab scenario list` and `scep-lab scenario run --all` against a running `scep-lab up`:
every verdict holds (each scenario checks its own outcome and what each party recorded: see
lab/scenarios/), the connector's crash and restart and the fleet included; then the two that
move the clock past a certificate's end for good, by name, last."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.procs import wait_http
from lab.scenarios import SCENARIOS
from tests.support.labproc import new_lab, scep_lab, start_up, stop_up

pytestmark = pytest.mark.e2e
FLEET_SIZE = "12"
"""The fleet scenario's devices here (500 by default): every platform, in reasonable time."""


def test_every_scenario_passes_against_the_running_lab(tmp_path: Path) -> None:
    listed = scep_lab("scenario", "list")
    assert listed.returncode == 0
    lines = listed.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(SCENARIOS)
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # name, then description
    every = [name for name, item in SCENARIOS.items() if not item.for_good]
    for_good = [name for name, item in SCENARIOS.items() if item.for_good]
    assert for_good == ["connector-cert-expired", "ra-expired"]

    data = tmp_path / "lab"
    state = new_lab(data)
    proc = start_up(data)
    try:
        for party in ("ndes", "ndes_general"):
            wait_http(f"{state.url(party)}/health", timeout=120, proc=proc)
        unknown = scep_lab("scenario", "run", "--data", data, "no-such-scenario")
        assert unknown.returncode == 2
        ran = scep_lab(
            "scenario", "run", "--data", data, "--all", "--fleet-size", FLEET_SIZE, timeout=600
        )
        expired = scep_lab("scenario", "run", "--data", data, *for_good, timeout=120)
    finally:
        assert stop_up(proc) == 0, (data / "up.log").read_text()[-3000:]
    assert ran.returncode == 0, ran.stdout[-4000:]
    assert f"{len(every)} of {len(every)} passed" in ran.stdout
    assert ran.stdout.count("PASS ") == len(every) and "FAIL " not in ran.stdout
    assert expired.returncode == 0, expired.stdout[-4000:]
    assert expired.stdout.count("PASS ") == len(for_good)
