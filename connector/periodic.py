"""What the background agents share: `repeat` (a step at once, then every `interval` seconds,
until `stop`; an error is logged and the step tried again after the interval, never fatal)
and `Problem` (the last error an agent shows on /health)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_PROBLEM_TEXT = 300


@dataclass(frozen=True)
class Problem:
    """What went wrong in an agent's latest attempt, and when (by the injected clock)."""

    at: dt.datetime
    message: str

    @classmethod
    def of(cls, at: dt.datetime, message: str) -> Problem:
        return cls(at, message[:MAX_PROBLEM_TEXT])

    def as_json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "message": self.message}


async def repeat(
    step: Callable[[], Awaitable[object]], stop: asyncio.Event, interval: float, *, name: str
) -> None:
    """Run `step` now, then every `interval` seconds (waiting less when `stop` is set), until
    `stop` is set. An exception of `step` is logged and the step tried again after the
    interval: an agent never dies of an error."""
    if interval <= 0:
        raise ValueError("interval must be positive")
    while not stop.is_set():
        try:
            await step()
        except Exception:
            logger.exception("%s failed; retrying in %.1f s", name, interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
