"""Scenarios against the running lab (`scep-lab up`, policy intune): each does what it says step
by step and ends with a checked verdict. `scep-lab scenario list | run NAME | run --all`."""

from . import catalogue as catalogue  # registers the scenarios
from .base import SCENARIOS, Lab, Scenario, ScenarioFailed, Verdict, run_scenario

__all__ = ["SCENARIOS", "Lab", "Scenario", "ScenarioFailed", "Verdict", "run_scenario"]
