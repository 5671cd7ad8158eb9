"""The outbox worker on the SQL store: delivers, retries with backoff on a moved clock, never
gives up, settles a refusal once, logs the connector's event IDs."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from connector.delivery import OutboxSaveFailed, OutboxWorker
from connector.outbox import Report, ReportId, SendResult, backoff
from connector.store import SqlOutboxStore
from shared.clock import FixedClock

from .support import DownSender, ScriptedSender, failure_report, success_report


def plain_backoff(attempt: int, _transaction_id: str) -> dt.timedelta:
    return backoff(attempt)


async def test_due_reports_are_delivered_once(store: SqlOutboxStore, clock: FixedClock) -> None:
    sender = ScriptedSender()
    worker = OutboxWorker(store, sender, clock)
    for n in range(3):
        await worker.enqueue(success_report(f"tx-{n}"))
    await worker.enqueue(failure_report("tx-3"))
    assert await worker.run_once() == 4
    assert await worker.run_once() == 0
    assert [r.transaction_id for r in sender.sent] == ["tx-0", "tx-1", "tx-2", "tx-3"]
    assert await store.pending_count() == 0


async def test_a_batch_takes_at_most_batch_reports(
    store: SqlOutboxStore, clock: FixedClock
) -> None:
    worker = OutboxWorker(store, ScriptedSender(), clock, batch=2)
    for n in range(5):
        await worker.enqueue(success_report(f"tx-{n}"))
    assert [await worker.run_once() for _ in range(4)] == [2, 2, 1, 0]


async def test_a_failed_attempt_waits_for_its_backoff(
    store: SqlOutboxStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    sender = ScriptedSender([SendResult.retry("503"), SendResult.retry("timeout")])
    worker = OutboxWorker(store, sender, clock, retry_after=plain_backoff)
    await worker.enqueue(success_report("tx-1"))
    with caplog.at_level(logging.INFO, logger="connector.delivery"):
        assert await worker.run_once() == 0
        assert await worker.run_once() == 0  # not due yet: nothing sent
        assert len(sender.sent) == 1
        clock.advance(dt.timedelta(seconds=1))
        assert await worker.run_once() == 0  # second attempt fails: now waits 2 s
        clock.advance(dt.timedelta(seconds=1))
        assert await worker.run_once() == 0
        clock.advance(dt.timedelta(seconds=1))
        assert await worker.run_once() == 1
    assert len(sender.sent) == 3
    failed = [r for r in caplog.records if getattr(r, "event_id", None) == 4009]
    assert len(failed) == 2
    assert "ScepNotifyAttemptFailed" in failed[1].getMessage()
    assert "attempt 2" in failed[1].getMessage() and "12:00:03" in failed[1].getMessage()
    [ok] = [r for r in caplog.records if getattr(r, "event_id", None) == 4008]
    assert "ScepNotifySuccess" in ok.getMessage() and "'tx-1'" in ok.getMessage()
    for record in caplog.records:
        assert "TUlJQ0NTUj0=" not in record.getMessage()  # the body stays out of the log
    [entry] = await store.entries()
    assert (entry.attempts, entry.last_error, entry.delivered_at) == (3, "timeout", clock.now())


async def test_it_never_gives_up(store: SqlOutboxStore, clock: FixedClock) -> None:
    sender = DownSender()
    worker = OutboxWorker(store, sender, clock)
    await worker.enqueue(success_report("tx-1"))
    for _ in range(40):  # far past the cap: still retried, every 5 minutes at most
        await worker.run_once()
        clock.advance(dt.timedelta(minutes=5))
    assert sender.attempts == 40
    [entry] = await store.entries()
    assert entry.delivered_at is None and entry.attempts == 40
    assert entry.last_error == "ConnectionError: cloud unreachable"
    assert entry.next_attempt_at - clock.now() <= dt.timedelta(0)
    worker = OutboxWorker(store, ScriptedSender(), clock)  # the cloud is back
    assert await worker.run_once() == 1
    assert await store.pending_count() == 0


async def test_a_refusal_is_recorded_once_and_not_resent(
    store: SqlOutboxStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    sender = ScriptedSender([SendResult.refused("ChallengeExpired", "too late")])
    worker = OutboxWorker(store, sender, clock)
    await worker.enqueue(success_report("tx-1"))
    assert await worker.run_once() == 1
    clock.advance(dt.timedelta(hours=1))
    assert await worker.run_once() == 0
    assert len(sender.sent) == 1
    [entry] = await store.entries()
    assert entry.refusal == "ChallengeExpired: too late"
    assert entry.delivered_at is not None
    assert any("refused" in r.getMessage() for r in caplog.records)


class BrokenStore(SqlOutboxStore):
    async def add(self, report: Report) -> ReportId:
        raise OSError("disk full")


async def test_a_report_that_cannot_be_kept_is_logged_4010_and_raised(
    store: SqlOutboxStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    worker = OutboxWorker(BrokenStore(store._engine), ScriptedSender(), clock)
    with pytest.raises(OutboxSaveFailed):
        await worker.enqueue(success_report("tx-1"))
    [record] = caplog.records
    assert getattr(record, "event_id", None) == 4010
    assert "ScepNotifySaveToDiskFailed" in record.getMessage()


async def test_run_forever_delivers_and_stops_promptly(
    store: SqlOutboxStore, clock: FixedClock
) -> None:
    sender = ScriptedSender()
    worker = OutboxWorker(store, sender, clock, batch=2)
    for n in range(5):
        await worker.enqueue(success_report(f"tx-{n}"))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop, poll_interval=30))
    async with asyncio.timeout(5):
        while await store.pending_count():  # noqa: ASYNC110 - the store has no event to await
            await asyncio.sleep(0.01)
        await worker.enqueue(success_report("tx-late"))  # picked up? only after the interval
        await asyncio.sleep(0.05)
        stop.set()
        await task  # well before the 30 s interval
    assert len(sender.sent) == 5


async def test_run_forever_polls_and_outlives_a_failing_pass(clock: FixedClock) -> None:
    class FlakyStore:
        def __init__(self) -> None:
            self.calls = 0
            self.polled_again = asyncio.Event()

        async def due(self, now: dt.datetime, limit: int) -> list[object]:
            self.calls += 1
            if self.calls == 1:
                raise OSError("database locked")
            if self.calls >= 3:
                self.polled_again.set()
            return []

    flaky = FlakyStore()
    worker = OutboxWorker(flaky, ScriptedSender(), clock)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop, poll_interval=0.01))
    async with asyncio.timeout(5):
        await flaky.polled_again.wait()
        stop.set()
        await task
