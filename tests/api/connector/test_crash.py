"""Crash safety: a real connector process adds reports, is killed with SIGKILL in the middle of
a delivery, and a fresh worker on the same SQLite file delivers the rest. The cloud is idempotent
by transaction ID, so "exactly once in effect" means: every report sent at least once, none marked
delivered without having been sent, none resent once recorded as delivered."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from connector.delivery import OutboxWorker
from connector.store import SqlOutboxStore, create_engine
from shared.clock import FixedClock

from .crash_child import fails_first_attempt, transaction_id
from .support import T0, ScriptedSender

ROOT = Path(__file__).resolve().parents[3]
N = 12


def sent_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("k", [1, 5])
async def test_a_killed_connector_loses_no_report(tmp_path: Path, k: int) -> None:
    db, sent, log = tmp_path / "connector.db", tmp_path / "sent.txt", tmp_path / "child.log"
    with log.open("w") as stderr:
        child = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.api.connector.crash_child"),
            *(str(db), str(sent), str(N), str(k)),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 15
        while len(sent_lines(sent)) < k:
            assert child.returncode is None, f"the child died early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the child made no progress:\n{log.read_text()}"
            await asyncio.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # in the middle of the k-th delivery
        assert await asyncio.wait_for(child.wait(), timeout=10) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await asyncio.wait_for(child.wait(), timeout=10)

    added = {transaction_id(i) for i in range(N)}
    before = sent_lines(sent)
    assert len(before) == k and len(set(before)) == k
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        store = SqlOutboxStore(engine)
        entries = await store.entries()
        assert {e.report.transaction_id for e in entries} == added  # all committed before delivery
        recorded = {e.report.transaction_id for e in entries if e.delivered_at is not None}
        assert recorded <= set(before)  # nothing marked delivered without having been sent
        assert recorded == set(before[:-1])  # each outcome recorded before the next send
        assert before[-1] not in recorded  # killed between sending and recording
        retried = {
            e.report.transaction_id for e in entries if e.attempts and e.delivered_at is None
        }
        assert all(fails_first_attempt(t) for t in retried)
        assert bool(retried) == (k > 1)  # the child got past a report that failed its attempt

        clock = FixedClock(T0 + dt.timedelta(minutes=10))  # past every backoff
        sender = ScriptedSender()
        worker = OutboxWorker(store, sender, clock, batch=5)
        for _ in range(10):
            if not await store.pending_count():
                break
            await worker.run_once()
        after = [r.transaction_id for r in sender.sent]
        assert await store.pending_count() == 0
        assert set(before) | set(after) == added  # every report reached the cloud
        assert not set(after) & recorded  # a recorded delivery is never resent
        assert len(after) == len(set(after))
        assert before[-1] in after  # the one in flight at the crash goes again: at least once
    finally:
        await engine.dispose()
