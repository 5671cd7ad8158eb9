"""Fault points a lab user (or a test) can arm, to watch the chain cope: the cloud answering
validation or notification calls with an HTTP error, a number of times or until cleared.

Lab only: the routes that arm them are under `/lab/faults` (off with `CLOUD_LAB_API=false`), and
the board lives in memory, so a restarted cloud starts with none armed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from fastapi import HTTPException


class FaultPoint(StrEnum):
    VALIDATION = "validation"
    """ScepActions/validateRequest (third-party CAs) and the connector's validateRequest."""
    NOTIFICATION = "notification"
    """successNotification and failureNotification, on both APIs."""


@dataclass(frozen=True)
class Fault:
    status: int
    remaining: int | None
    """None: until cleared."""


class FaultBoard:
    """The armed faults. Thread-safe: a lab may serve several apps on one loop, tests another."""

    def __init__(self) -> None:
        self._faults: dict[FaultPoint, Fault] = {}
        self._lock = threading.Lock()

    def arm(self, point: FaultPoint, *, status: int = 503, times: int | None = None) -> None:
        if not 500 <= status <= 599:
            raise ValueError("a fault answers with a 5xx status")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: until cleared)")
        with self._lock:
            self._faults[point] = Fault(status, times)

    def clear(self, point: FaultPoint | None = None) -> None:
        with self._lock:
            if point is None:
                self._faults.clear()
            else:
                self._faults.pop(point, None)

    def armed(self) -> dict[FaultPoint, Fault]:
        with self._lock:
            return dict(self._faults)

    def trip(self, point: FaultPoint) -> None:
        """Raise the armed fault's HTTP error (and count it down), or return."""
        with self._lock:
            fault = self._faults.get(point)
            if fault is None:
                return
            if fault.remaining is not None:
                if fault.remaining <= 1:
                    del self._faults[point]
                else:
                    self._faults[point] = Fault(fault.status, fault.remaining - 1)
        raise HTTPException(fault.status, f"lab fault injected at {point.value}")
