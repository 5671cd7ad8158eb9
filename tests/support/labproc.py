"""`scep-lab` as a user runs it, for end-to-end tests: one-shot commands, and `up` in its own
process group, stopped with SIGINT as Ctrl-C would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def scep_lab(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_up(data: Path) -> subprocess.Popen[bytes]:
    """`scep-lab up --data DATA`, its output in DATA/up.log."""
    with open(data / "up.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "lab", "up", "--data", str(data)],
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
