"""Fault points of the CA a lab user (or a test) can arm, to watch NDES and the devices cope:

- refusing: the policy module denies every submission with a given HRESULT (recorded in the CA
  database as DENIED, as AD CS records a request its policy module refused);
- down: the CA's request API (`/ca/*`) answers with a 5xx, as a stopped certificate service
  leaves NDES's calls unanswered; the CA certificates and CRLs stay downloadable (AIA and CDP
  are published by a web server, not by the CA service).

Each for a number of requests or until cleared. Lab only: the routes that arm them are under
`/lab/faults` (with `CA_LAB_API=true`), behind the CA's admin token; the board lives in memory,
so a restarted CA starts with none armed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum

from .hresult import Hresult
from .outcome import Refusal


class CaFaultPoint(StrEnum):
    REFUSING = "refusing"
    """Submissions are denied with the armed HRESULT."""
    DOWN = "down"
    """The request API answers with the armed HTTP status."""


REFUSABLE = tuple(code for code in Hresult if code is not Hresult.S_OK)
"""The HRESULTs a refusal may carry: the CA's own (see `hresult`)."""


@dataclass(frozen=True)
class CaFault:
    remaining: int | None
    """None: until cleared."""
    hresult: Hresult | None = None
    """REFUSING: the refusal's HRESULT."""
    status: int | None = None
    """DOWN: the HTTP status answered."""


class CaFaultBoard:
    """The armed faults. Thread-safe: tests may arm from another thread than the app's."""

    def __init__(self) -> None:
        self._faults: dict[CaFaultPoint, CaFault] = {}
        self._lock = threading.Lock()

    def refuse(self, hresult: int, *, times: int | None = None) -> None:
        """Deny every submission with `hresult` (one of the CA's own HRESULTs)."""
        try:
            code = Hresult(hresult)
        except ValueError as exc:
            text = f"0x{hresult & 0xFFFFFFFF:08X} is not one of the CA's HRESULTs"
            raise ValueError(text) from exc
        if code is Hresult.S_OK:
            raise ValueError("a refusal needs a failure HRESULT, not S_OK")
        self._arm(CaFaultPoint.REFUSING, CaFault(_times(times), hresult=code))

    def go_down(self, *, status: int = 503, times: int | None = None) -> None:
        """Answer the request API with `status` (a 5xx)."""
        if not 500 <= status <= 599:
            raise ValueError("a CA that is down answers with a 5xx status")
        self._arm(CaFaultPoint.DOWN, CaFault(_times(times), status=status))

    def clear(self, point: CaFaultPoint | None = None) -> None:
        with self._lock:
            if point is None:
                self._faults.clear()
            else:
                self._faults.pop(point, None)

    def armed(self) -> dict[CaFaultPoint, CaFault]:
        with self._lock:
            return dict(self._faults)

    def refusal(self) -> Refusal | None:
        """The refusal for the submission at hand (counted down), or None."""
        fault = self._take(CaFaultPoint.REFUSING)
        if fault is None or fault.hresult is None:
            return None
        return Refusal.denied(fault.hresult, "lab fault: the CA refuses every request")

    def down_status(self) -> int | None:
        """The status to answer the request at hand with (counted down), or None."""
        fault = self._take(CaFaultPoint.DOWN)
        return None if fault is None else fault.status

    def _arm(self, point: CaFaultPoint, fault: CaFault) -> None:
        with self._lock:
            self._faults[point] = fault

    def _take(self, point: CaFaultPoint) -> CaFault | None:
        with self._lock:
            fault = self._faults.get(point)
            if fault is None:
                return None
            if fault.remaining is not None:
                if fault.remaining <= 1:
                    del self._faults[point]
                else:
                    self._faults[point] = CaFault(fault.remaining - 1, fault.hresult, fault.status)
            return fault


def _times(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or None: until cleared)")
    return times
