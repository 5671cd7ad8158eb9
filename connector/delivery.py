"""The outbox worker: takes what is due from the store, sends it, records each outcome durably
before it sends the next report, and never gives up on a report.

Order of work per report: send, then record. A crash after sending and before recording sends the
report again after the restart; the cloud takes a second report for the same transaction ID as a
repeat, so the effect is exactly once. The opposite order could lose a report; this one cannot.

Event IDs and names are the real Certificate Connector's (Microsoft-Intune-CertificateConnectors):
4008 ScepNotifySuccess, 4009 ScepNotifyAttemptFailed, 4010 ScepNotifySaveToDiskFailed. Log lines
name the transaction ID and kind only: never the body (it carries the CSR).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from shared import trace
from shared.clock import Clock

from .outbox import Delivery, OutboxStore, Pending, Report, ReportId, Sender, SendResult, backoff

logger = logging.getLogger(__name__)

NOTIFY_SUCCESS = 4008
NOTIFY_ATTEMPT_FAILED = 4009
NOTIFY_SAVE_TO_DISK_FAILED = 4010
MAX_ERROR_TEXT = 500

Backoff = Callable[[int, str], dt.timedelta]


def jittered_backoff(attempt: int, transaction_id: str) -> dt.timedelta:
    """The default retry policy: 1 s doubling to 5 min, up to 20 % shorter per transaction."""
    return backoff(attempt, jitter=0.2, jitter_key=transaction_id)


class OutboxSaveFailed(Exception):
    """The report could not be kept: the caller must not claim it will be delivered."""


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        sender: Sender,
        clock: Clock,
        *,
        batch: int = 20,
        retry_after: Backoff = jittered_backoff,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._store = store
        self._sender = sender
        self._clock = clock
        self._batch = batch
        self._retry_after = retry_after

    async def enqueue(self, report: Report) -> ReportId:
        """Keep `report` durably (committed when this returns), for delivery by the worker."""
        try:
            return await self._store.add(report)
        except Exception as exc:
            logger.error(
                "4010 ScepNotifySaveToDiskFailed: could not keep the %s report for transaction "
                "%r: %s",
                report.kind.value,
                report.transaction_id,
                type(exc).__name__,
                extra={"event_id": NOTIFY_SAVE_TO_DISK_FAILED},
            )
            raise OutboxSaveFailed(f"could not keep report {report.transaction_id!r}") from exc

    async def run_once(self) -> int:
        """One pass over what is due now; returns how many reports it settled (delivered or
        refused by the cloud). Each outcome is committed before the next report is sent."""
        _, settled = await self._pass(None)
        return settled

    async def run_forever(self, stop: asyncio.Event, poll_interval: float = 1.0) -> None:
        """Pass after pass until `stop` is set; between passes, waits at most `poll_interval`
        seconds (less when `stop` is set). A full batch is followed at once by another pass; a
        pass stops between two reports when `stop` is set. An error of the store is logged and
        the pass retried after the interval: nothing here gives up."""
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        while not stop.is_set():
            try:
                seen, _ = await self._pass(stop)
            except Exception:
                logger.exception("outbox pass failed; retrying in %.1f s", poll_interval)
                seen = 0
            if seen >= self._batch:
                await asyncio.sleep(0)  # let others run between full batches
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_interval)

    async def _pass(self, stop: asyncio.Event | None) -> tuple[int, int]:
        due = await self._store.due(self._clock.now(), self._batch)
        settled = 0
        for pending in due:
            if stop is not None and stop.is_set():
                break
            if await self._attempt(pending):
                settled += 1
        return len(due), settled

    async def _attempt(self, pending: Pending) -> bool:
        report = pending.report
        try:
            with trace.activity("deliver", transaction_id=report.transaction_id):
                result = await self._sender.send(report)
        except Exception as exc:  # a sender that raises has not delivered: try again
            result = SendResult.retry(f"{type(exc).__name__}: {exc}")
        now = self._clock.now()
        attempt = pending.attempts + 1
        if result.outcome is Delivery.RETRY:
            next_at = now + self._retry_after(attempt, report.transaction_id)
            await self._store.mark_failed_attempt(
                pending.id, now, next_at, result.detail[:MAX_ERROR_TEXT]
            )
            logger.warning(
                "4009 ScepNotifyAttemptFailed: %s report for transaction %r, attempt %d failed "
                "(%s); next attempt at %s",
                report.kind.value,
                report.transaction_id,
                attempt,
                result.detail[:120],
                next_at.isoformat(),
                extra={"event_id": NOTIFY_ATTEMPT_FAILED},
            )
            return False
        refusal = result.detail[:MAX_ERROR_TEXT] if result.outcome is Delivery.REFUSED else None
        await self._store.mark_delivered(pending.id, now, refusal=refusal)
        if refusal is None:
            logger.info(
                "4008 ScepNotifySuccess: %s report for transaction %r delivered (attempt %d)",
                report.kind.value,
                report.transaction_id,
                attempt,
                extra={"event_id": NOTIFY_SUCCESS},
            )
        else:
            logger.warning(
                "4008 ScepNotifySuccess: %s report for transaction %r delivered and refused by "
                "the cloud (%s); not resent",
                report.kind.value,
                report.transaction_id,
                refusal[:120],
                extra={"event_id": NOTIFY_SUCCESS},
            )
        return True
