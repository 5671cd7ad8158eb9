"""The scenario runner's verdicts: PASS with the scenario's reason, FAIL with the failed
expectation's, and an error of the lab turned into a FAIL rather than a crash."""

from __future__ import annotations

from pathlib import Path

import httpx

from lab.home import LabState
from lab.scenarios import Lab, Scenario, run_scenario
from lab.scenarios.base import expect


def _lab(said: list[str]) -> Lab:
    return Lab(Path("/nonexistent"), LabState(), say=said.append)


def test_verdicts() -> None:
    said: list[str] = []

    def passes(lab: Lab) -> str:
        lab.say("step one")
        return "it held"

    def fails(lab: Lab) -> str:
        expect(1 + 1 == 3, "arithmetic")
        return "unreachable"

    def breaks(lab: Lab) -> str:
        raise httpx.ConnectError("no lab")

    verdicts = [
        run_scenario(Scenario(name, "", run), _lab(said))
        for name, run in (("a", passes), ("b", fails), ("c", breaks))
    ]
    assert [(v.passed, v.reason) for v in verdicts] == [
        (True, "it held"),
        (False, "arithmetic"),
        (False, "ConnectError: no lab"),
    ]
    assert said == ["step one"]
