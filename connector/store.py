"""The outbox on SQLAlchemy 2 (async): SQLite by default, PostgreSQL by URL.

One table, `outbox_reports`: one row per report, unique on (transaction_id, kind), so adding the
same report twice keeps one row. A row is pending while `delivered_at` is NULL; `attempts`,
`next_attempt_at` and `last_error` track the retries; `refusal` holds the cloud's code when it
answered but refused the report. Rows are kept after delivery (they are the connector's record of
what it reported); pruning them is a separate concern.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import cast

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import UtcDateTime, create_engine

from .outbox import JsonObject, Pending, Report, ReportId, ReportKind

__all__ = ["OutboxEntry", "SqlOutboxStore", "create_engine", "metadata", "outbox_reports"]

metadata = MetaData()

outbox_reports = Table(
    "outbox_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transaction_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("request_digest", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("refusal", Text, nullable=True),
    UniqueConstraint(
        "transaction_id", "kind", "request_digest", name="uq_outbox_reports_transaction_request"
    ),
    Index("ix_outbox_reports_due", "delivered_at", "next_attempt_at"),
)


@dataclass(frozen=True)
class OutboxEntry:
    """A row as it stands, for inspection (status pages, tests)."""

    id: ReportId
    report: Report
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    delivered_at: dt.datetime | None
    refusal: str | None


class SqlOutboxStore:
    """`OutboxStore` on a SQLAlchemy async engine; call `create_tables()` once at start-up."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create_tables(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def add(self, report: Report) -> ReportId:
        existing = await self._find(report)
        if existing is not None:
            return existing
        values = {
            "transaction_id": report.transaction_id,
            "kind": report.kind.value,
            "request_digest": report.request_digest,
            "body": json.dumps(report.body, separators=(",", ":"), sort_keys=True),
            "created_at": report.created_at,
            "attempts": 0,
            "next_attempt_at": report.created_at,
        }
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    insert(outbox_reports).values(values).returning(outbox_reports.c.id)
                )
                return ReportId(result.scalar_one())
        except IntegrityError:
            # added concurrently by someone else: theirs is the one we keep
            existing = await self._find(report)
            if existing is None:
                raise
            return existing

    async def due(self, now: dt.datetime, limit: int) -> list[Pending]:
        t = outbox_reports
        query = (
            select(t.c.id, t.c.kind, t.c.transaction_id, t.c.body, t.c.created_at, t.c.attempts)
            .where(t.c.delivered_at.is_(None), t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Pending(
                ReportId(row.id),
                _report(row.kind, row.transaction_id, row.body, row.created_at),
                row.attempts,
            )
            for row in rows
        ]

    async def mark_delivered(
        self, report_id: ReportId, now: dt.datetime, *, refusal: str | None = None
    ) -> None:
        t = outbox_reports
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(t.c.id == report_id, t.c.delivered_at.is_(None))
                .values(
                    delivered_at=now,
                    last_attempt_at=now,
                    attempts=t.c.attempts + 1,
                    refusal=refusal,
                )
            )

    async def mark_failed_attempt(
        self, report_id: ReportId, now: dt.datetime, next_at: dt.datetime, error: str
    ) -> None:
        t = outbox_reports
        async with self._engine.begin() as conn:
            await conn.execute(
                update(t)
                .where(t.c.id == report_id, t.c.delivered_at.is_(None))
                .values(
                    attempts=t.c.attempts + 1,
                    last_attempt_at=now,
                    next_attempt_at=next_at,
                    last_error=error,
                )
            )

    async def pending_count(self) -> int:
        t = outbox_reports
        query = select(func.count()).select_from(t).where(t.c.delivered_at.is_(None))
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def entries(self) -> list[OutboxEntry]:
        """Every report kept, delivered or not, in the order they were added."""
        t = outbox_reports
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(t).order_by(t.c.id))).all()
        return [
            OutboxEntry(
                ReportId(row.id),
                _report(row.kind, row.transaction_id, row.body, row.created_at),
                row.attempts,
                row.next_attempt_at,
                row.last_error,
                row.delivered_at,
                row.refusal,
            )
            for row in rows
        ]

    async def _find(self, report: Report) -> ReportId | None:
        async with self._engine.connect() as conn:
            return await _find_id(conn, report)


async def _find_id(conn: AsyncConnection, report: Report) -> ReportId | None:
    t = outbox_reports
    query = select(t.c.id).where(
        t.c.transaction_id == report.transaction_id,
        t.c.kind == report.kind.value,
        t.c.request_digest == report.request_digest,
    )
    found = (await conn.execute(query)).scalar_one_or_none()
    return None if found is None else ReportId(found)


def _report(kind: str, transaction_id: str, body: str, created_at: dt.datetime) -> Report:
    return Report(ReportKind(kind), transaction_id, cast(JsonObject, json.loads(body)), created_at)
