"""Time, injected. Nothing in the lab reads the system clock directly where time matters: it asks
a Clock, so that tests and the lab can move time forward (expire a challenge, reach a renewal
threshold) without sleeping."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class OffsetClock:
    """The system clock plus an offset that only grows: the lab's virtual clock."""

    def __init__(self, offset: dt.timedelta = dt.timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> dt.timedelta:
        return self._offset

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        if delta < dt.timedelta(0):
            raise ValueError("the lab clock only moves forward")
        with self._lock:
            self._offset += delta
        return self.now()

    def advance_to(self, offset: dt.timedelta) -> dt.datetime:
        """Make the offset `offset`, unless it is ahead already (it never goes back)."""
        with self._lock:
            self._offset = max(self._offset, offset)
        return self.now()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self._offset


class FixedClock:
    """A clock that stands still until moved: for tests."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self._at += delta
        return self._at

    def now(self) -> dt.datetime:
        return self._at
