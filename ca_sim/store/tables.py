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

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import UtcDateTime, create_engine

__all__ = ["UtcDateTime", "create_engine", "create_tables", "metadata"]


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


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
