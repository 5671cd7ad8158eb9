"""The outbox table itself, on SQLite and (with TEST_POSTGRES_URL) on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from connector.store import SqlOutboxStore

from .support import T0, failure_report, success_report


async def test_a_report_comes_back_as_it_went_in(store: SqlOutboxStore) -> None:
    report = success_report("tx-1")
    report_id = await store.add(report)
    [pending] = await store.due(T0, 10)
    assert (pending.id, pending.report, pending.attempts) == (report_id, report, 0)
    assert await store.pending_count() == 1


async def test_adding_the_same_report_twice_keeps_one_row(store: SqlOutboxStore) -> None:
    first = await store.add(success_report("tx-1"))
    again = await store.add(success_report("tx-1", T0 + dt.timedelta(seconds=5)))
    concurrent = await asyncio.gather(*(store.add(success_report("tx-1")) for _ in range(5)))
    assert again == first
    assert set(concurrent) == {first}
    assert [e.report.created_at for e in await store.entries()] == [T0]  # the first one kept


async def test_success_and_failure_of_one_transaction_are_two_reports(
    store: SqlOutboxStore,
) -> None:
    a = await store.add(success_report("tx-1"))
    b = await store.add(failure_report("tx-1"))
    assert a != b
    assert await store.pending_count() == 2


async def test_a_reused_transaction_id_for_another_request_is_another_report(
    store: SqlOutboxStore,
) -> None:
    """scepclient derives its transaction ID from its key: a renewal with the same key reuses
    it for a new request, whose report must not be taken for the first one's."""
    first = await store.add(success_report("tx-1"))
    renewal = await store.add(success_report("tx-1", request="UkVORVdBTA=="))
    assert first != renewal
    assert await store.pending_count() == 2


async def test_due_honours_the_next_attempt_time_order_and_limit(store: SqlOutboxStore) -> None:
    ids = [
        await store.add(success_report(f"tx-{n}", T0 + dt.timedelta(seconds=n))) for n in range(4)
    ]
    assert [p.id for p in await store.due(T0 + dt.timedelta(seconds=2), 10)] == ids[:3]
    assert [p.id for p in await store.due(T0 + dt.timedelta(seconds=9), 2)] == ids[:2]
    await store.mark_failed_attempt(ids[0], T0, T0 + dt.timedelta(minutes=1), "timeout")
    assert [p.id for p in await store.due(T0 + dt.timedelta(seconds=9), 10)] == ids[1:]
    [retried] = [p for p in await store.due(T0 + dt.timedelta(minutes=1), 10) if p.id == ids[0]]
    assert retried.attempts == 1


async def test_a_delivered_report_is_no_longer_due(store: SqlOutboxStore) -> None:
    delivered = await store.add(success_report("tx-1"))
    refused = await store.add(failure_report("tx-2"))
    await store.mark_delivered(delivered, T0)
    await store.mark_delivered(refused, T0, refusal="ChallengeExpired")
    await store.mark_failed_attempt(delivered, T0, T0, "late")  # ignored: already settled
    assert await store.due(T0 + dt.timedelta(days=1), 10) == []
    assert await store.pending_count() == 0
    by_id = {e.id: e for e in await store.entries()}
    assert (by_id[delivered].delivered_at, by_id[delivered].refusal) == (T0, None)
    assert by_id[delivered].attempts == 1 and by_id[delivered].last_error is None
    assert by_id[refused].refusal == "ChallengeExpired"


async def test_the_store_survives_a_new_engine(store: SqlOutboxStore) -> None:
    await store.add(success_report("tx-1"))
    again = SqlOutboxStore(store._engine)  # same database, as after a restart
    await again.create_tables()  # idempotent
    assert [p.report.transaction_id for p in await again.due(T0, 10)] == ["tx-1"]
