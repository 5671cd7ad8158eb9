"""Scenarios against the running lab (`scep-lab up`, policy intune): each does what it says step
by step and ends with a checked verdict. `scep-lab scenario list | run NAME | run --all`.

The modules register their scenarios as they are imported, in the order `--all` runs them: the
Intune basics and attacks, trust, the general workflow, platform quirks, outages, the fleet;
then the two that move the clock past a certificate's end for good (by name only)."""

# isort: off
from . import catalogue as catalogue
from . import trust as trust
from . import general as general
from . import platforms as platforms
from . import outages as outages
from . import fleet as fleet
from . import expiry as expiry

# isort: on
from .base import SCENARIOS, Lab, Scenario, ScenarioFailed, Verdict, run_scenario

__all__ = ["SCENARIOS", "Lab", "Scenario", "ScenarioFailed", "Verdict", "run_scenario"]
