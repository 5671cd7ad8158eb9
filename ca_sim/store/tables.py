"""The CA database on SQLAlchemy 2 (async): SQLite by default, PostgreSQL by URL.

Three tables: `requests` (every submission, with its disposition, HRESULT and the PKCS#10 as
received), `certificates` (issued ones; the serial is UNIQUE, which is what makes random serials
safe under concurrency: a clash fails the insert and the service retries with a new serial) and
`crls` (per CA, the current CRL and its number; replaced compare-and-set on the number).

Types are portable (Integer, BigInteger, String, Text, LargeBinary, DateTime with time zone).
On SQLite every transaction is BEGIN IMMEDIATE, so concurrent writers queue on the database lock
instead of failing when a read lock cannot be upgraded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the CA database stores aware datetimes only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


metadata = MetaData()

requests = Table(
    "requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("requester", String(512), nullable=False, index=True),
    Column("template", String(255), nullable=False, index=True),
    Column("transaction_id", String(255), nullable=True, index=True),
    Column("subject", Text, nullable=False),
    Column("disposition", Integer, nullable=False, index=True),
    Column("hresult", BigInteger, nullable=False),  # unsigned 32-bit: beyond a signed INTEGER
    Column("message", Text, nullable=False),
    Column("csr", LargeBinary, nullable=False),
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("serial", String(64), nullable=False, unique=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("reason", Integer, nullable=True),
)

crls = Table(
    "crls",
    metadata,
    Column("ca", String(32), primary_key=True),
    Column("number", Integer, nullable=False),
    Column("this_update", UtcDateTime, nullable=False),
    Column("next_update", UtcDateTime, nullable=False),
    Column("der", LargeBinary, nullable=False),
)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; SQLite gets BEGIN IMMEDIATE transactions and a busy timeout."""
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_pre_ping=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let "begin" below open transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers do not block the writer; NORMAL: fsync at checkpoints, not every commit
        # (a power cut may lose the last commits, never corrupt the database)
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
