"""Fixtures: an outbox store on a fresh SQLite file (and on PostgreSQL when TEST_POSTGRES_URL
names one), and a clock that stands still until moved."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connector.store import SqlOutboxStore, create_engine, metadata
from shared.clock import FixedClock

from .support import T0

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlOutboxStore]:
    """SQLite always; PostgreSQL too when TEST_POSTGRES_URL names one (its table is reset)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'connector.db'}"
    elif POSTGRES_URL:
        url = POSTGRES_URL
    else:
        pytest.skip("set TEST_POSTGRES_URL (postgresql+asyncpg://...) to run on PostgreSQL")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    store = SqlOutboxStore(engine)
    await store.create_tables()
    yield store
    await engine.dispose()
