"""`scep-lab bench intune`, small: the lab (`scep-lab up --policy intune`) and micromdm's
scepserver are both measured in one run, every enrolment ends with a checked certificate, and
the ratios are the ratios of the medians."""

from __future__ import annotations

import json

import pytest

from tests.support.labproc import scep_lab

pytestmark = pytest.mark.e2e

SIDES = ("lab", "scepserver")


def test_bench_intune_measures_both_sides_with_every_enrolment_issued() -> None:
    run = scep_lab(
        "bench", "intune", "--devices", "4", "--parallel", "2", "--rounds", "1", "--json",
        timeout=240,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(run.stdout)
    assert (figures["devices"], figures["parallel"], figures["rounds"]) == (4, 2, 1)
    assert figures["issued"] == figures["enrolments"] == {"lab": 4, "scepserver": 4}
    assert figures["failed"] == {"lab": 0, "scepserver": 0}
    assert figures["failures"] == {"lab": [], "scepserver": []}
    assert figures["keys_generated"] == {"lab": 0, "scepserver": 0}  # all made before timing
    assert figures["duplicate_serials"]["lab"] == 0
    for side in SIDES:
        [only] = figures["runs"][side]
        assert (only["enrolments"], only["issued"], only["failed"]) == (4, 4, 0)
        assert figures["warmup"][side]["issued"] == 2  # P devices, not counted
        assert only["rate"] == pytest.approx(4 / only["seconds"])
        assert 0 < only["p50_ms"] <= only["p99_ms"] < 1000 * only["seconds"]
        median = ("rate", "p50_ms", "p99_ms", "server_cpu_ms", "driver_cpu_ms")
        assert figures["median"][side] == {k: only[k] for k in median}
        assert only["server_cpu_ms"] > 0 and only["driver_cpu_ms"] > 0
        # VmHWM read while the process lived: it only grows
        assert figures["peak_memory_kib"][side] >= figures["memory_start_kib"][side] > 0
    lab, peer = figures["median"]["lab"], figures["median"]["scepserver"]
    assert figures["ratio"]["rate"] == pytest.approx(lab["rate"] / peer["rate"])
    assert figures["ratio"]["p50_ms"] == pytest.approx(lab["p50_ms"] / peer["p50_ms"])
    memory = figures["peak_memory_kib"]
    # five parties in one Python process against one Go binary
    assert memory["lab"] > 30 * 1024 > memory["scepserver"]
    assert figures["ratio"]["peak_memory"] == pytest.approx(memory["lab"] / memory["scepserver"])
