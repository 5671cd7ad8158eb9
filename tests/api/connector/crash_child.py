"""The connector's outbox in a child process, to be killed mid-delivery by test_crash.

    python -m tests.api.connector.crash_child DB SENT N K

Adds N success reports to the SQLite file DB, then delivers them with a sender that appends each
delivered transaction ID to SENT (flushed and fsynced: what the cloud received) and, after the
K-th, hangs: the parent kills the process with SIGKILL there. Reports whose number is 1 modulo 4
fail their first attempt (the clock stands still here, so they stay pending)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from connector.delivery import OutboxWorker
from connector.outbox import Report, SendResult
from connector.store import SqlOutboxStore, create_engine
from shared.clock import FixedClock

from .support import T0, success_report


def transaction_id(n: int) -> str:
    return f"tx-{n:03d}"


def fails_first_attempt(transaction: str) -> bool:
    return int(transaction.removeprefix("tx-")) % 4 == 1


class FileSender:
    def __init__(self, path: Path, hang_after: int) -> None:
        self._path = path
        self._hang_after = hang_after
        self._count = 0

    async def send(self, report: Report) -> SendResult:
        if fails_first_attempt(report.transaction_id):
            return SendResult.retry("503 Service Unavailable")
        with self._path.open("a") as sent:
            sent.write(report.transaction_id + "\n")
            sent.flush()
            os.fsync(sent.fileno())
        self._count += 1
        if self._count >= self._hang_after:
            await asyncio.sleep(3600)  # the parent kills us here
        return SendResult.delivered()


async def main(db: Path, sent: Path, n: int, k: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    store = SqlOutboxStore(engine)
    await store.create_tables()
    worker = OutboxWorker(store, FileSender(sent, k), FixedClock(T0), batch=4)
    for i in range(n):
        await worker.enqueue(success_report(transaction_id(i)))
    await worker.run_forever(asyncio.Event(), poll_interval=0.05)


if __name__ == "__main__":
    db_arg, sent_arg, n_arg, k_arg = sys.argv[1:]
    asyncio.run(main(Path(db_arg), Path(sent_arg), int(n_arg), int(k_arg)))
