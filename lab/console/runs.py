"""Scenario runs started from the console: one at a time, each in a thread of its own (a
scenario is blocking code that calls the parties over HTTP, as `scep-lab scenario run` does),
every step and the verdict pushed to the open pages as it happens."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.trace import TraceEvent

from ..home import load_state
from ..scenarios import SCENARIOS, Lab, run_scenario
from .live import POLL_SECONDS, Hub, TraceIndex
from .views import message_line

log = logging.getLogger(__name__)

KEPT = 50
"""Finished runs remembered (newest)."""
SETTLE_SECONDS = 3 * POLL_SECONDS


class RunRefused(Exception):
    """The run cannot start: `status` is the HTTP status that says why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclasses.dataclass
class Run:
    id: str
    scenario: str
    started: str
    state: str = "running"
    steps: list[str] = dataclasses.field(default_factory=list)
    reason: str | None = None
    seconds: float | None = None
    transactions: list[str] = dataclasses.field(default_factory=list)
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Once it ended: every message of the lab while it ran (see views.message_line)."""

    def json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class Runs:
    def __init__(
        self, data: Path, hub: Hub, index: TraceIndex, fleet_size: int | None = None
    ) -> None:
        self.data = data
        self.hub = hub
        self.index = index
        self.fleet_size = fleet_size
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._current: Run | None = None

    def all(self) -> list[Run]:
        with self._lock:
            return list(self._runs.values())

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def start(self, name: str, *, runner: Callable[[Run], None] | None = None) -> Run:
        item = SCENARIOS.get(name)
        if item is None:
            raise RunRefused(404, f"no scenario named {name!r}")
        state = load_state(self.data)
        if state is None or state.tenant is None or state.policy != "intune":
            raise RunRefused(409, "the scenarios need `scep-lab up` with the Intune policy")
        with self._lock:
            if self._current is not None:
                raise RunRefused(409, f"{self._current.scenario} is running: wait for its verdict")
            run = Run(uuid.uuid4().hex[:12], name, _now())
            self._current = run
            self._runs[run.id] = run
            for old in list(self._runs)[:-KEPT]:
                del self._runs[old]
        self.hub.publish_threadsafe("run", run.json())  # from a request's worker thread
        thread = threading.Thread(
            target=runner or self._work, args=(run,), name=f"scenario-{name}", daemon=True
        )
        thread.start()
        return run

    def _say(self, run: Run, text: str) -> None:
        with self._lock:
            run.steps.append(text)
            payload = run.json()
        self.hub.publish_threadsafe("run", payload)

    def _work(self, run: Run) -> None:
        passed, reason, seconds = False, "the run ended without a verdict", None
        try:
            state = load_state(self.data)
            if state is None:
                raise RuntimeError("lab.json is gone")
            lab = Lab(self.data, state, lambda text: self._say(run, text))
            if self.fleet_size is not None:
                lab.fleet_size = self.fleet_size
            verdict = run_scenario(SCENARIOS[run.scenario], lab)
            passed, reason, seconds = verdict.passed, verdict.reason, verdict.seconds
        except Exception as exc:  # the run ends with a verdict whatever happened
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            time.sleep(SETTLE_SECONDS)  # the trace index catches up with the run's last events
            self.finish(run, passed, reason, seconds)

    def finish(self, run: Run, passed: bool, reason: str, seconds: float | None) -> None:
        """The run's verdict, its transactions and its messages (from the trace index); the
        next run may start."""
        try:
            events = [e for e in self.index.events if e.at >= run.started]
            lines = [line for e in events if (line := message_line(e)) is not None]
            found = _transactions_of(events)
        except Exception:  # what it kept is lost, not the next run
            log.exception("the messages of run %s", run.id)
            lines, found = [], []
        with self._lock:
            run.state = "passed" if passed else "failed"
            run.reason, run.seconds = reason, seconds
            run.transactions, run.messages = found, lines
            self._current = None
            payload = run.json()
        self.hub.publish_threadsafe("run", payload)


def _transactions_of(events: list[TraceEvent]) -> list[str]:
    """The transactions seen among `events` (the run's: one run at a time), first seen first."""
    return list(dict.fromkeys(e.transaction_id for e in events if e.transaction_id))
