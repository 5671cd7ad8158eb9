"""The lab itself: how the parties are started and wired, scenarios, the trace of a run.

`lab` is the only package that imports the parties; it owns the `scep-lab` command line.
"""

__version__ = "0.1.0"
