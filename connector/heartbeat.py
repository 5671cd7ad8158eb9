"""The heartbeat: the connector tells the cloud it is alive (and its version) at start and then
every `heartbeat_seconds`, so that Intune lists it as active (Graph ndesConnector
`lastConnectionDateTime`, `state`; intune-api.md §3.4, whose interval is undocumented). The
last successful beat and the latest error are kept for /health."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from shared.clock import Clock

from .cloud import CloudClient, CloudError
from .periodic import Problem, repeat

logger = logging.getLogger(__name__)


class HeartbeatAgent:
    def __init__(self, cloud: CloudClient, clock: Clock, version: str) -> None:
        self._cloud = cloud
        self._clock = clock
        self._version = version
        self.last_success: dt.datetime | None = None
        self.last_error: Problem | None = None
        """The latest beat's error; None once a beat succeeds."""

    async def run_once(self) -> bool:
        """One beat; True if the cloud took it. A failure is logged and kept, not raised."""
        try:
            await self._cloud.heartbeat(self._version)
        except CloudError as exc:
            self.last_error = Problem.of(self._clock.now(), str(exc))
            logger.warning("heartbeat failed: %s", exc)
            return False
        except Exception as exc:  # shown on /health, then logged by `repeat`
            self.last_error = Problem.of(self._clock.now(), f"{type(exc).__name__}: {exc}")
            raise
        self.last_success, self.last_error = self._clock.now(), None
        logger.debug("heartbeat sent (version %s)", self._version)
        return True

    async def run_forever(self, stop: asyncio.Event, interval: float) -> None:
        """A beat at once, then one every `interval` seconds until `stop` is set."""
        await repeat(self.run_once, stop, interval, name="heartbeat")

    def health(self) -> dict[str, object]:
        return {
            "lastSuccess": None if self.last_success is None else self.last_success.isoformat(),
            "lastError": None if self.last_error is None else self.last_error.as_json(),
        }
