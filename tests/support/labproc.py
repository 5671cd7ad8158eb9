"""`scep-lab` as a user runs it, for end-to-end tests: one-shot commands, and `up` in its own
process group, stopped with SIGINT as Ctrl-C would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from lab.home import LabState, Policy, load_or_create_state, save_state
from lab.procs import use_free_ports


def scep_lab(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def new_lab(data: Path, policy: Policy = "intune") -> LabState:
    """A lab.json in `data` with a free loopback port for every party and NDES's policy."""
    state = load_or_create_state(data)
    use_free_ports(state.ports)
    state.policy = policy
    save_state(data, state)
    return state


def start_up(data: Path, *args: str, log_name: str = "up.log") -> subprocess.Popen[bytes]:
    """`scep-lab up --data DATA [ARGS]` (ARGS: e.g. `--policy otp`, `--only cloud`), its output
    in DATA/LOG_NAME."""
    with open(data / log_name, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "lab", "up", "--data", str(data), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_up(proc: subprocess.Popen[bytes]) -> int:
    """SIGINT, as Ctrl-C; the exit code. SIGKILL and re-raise if it does not stop in 30 s."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise
