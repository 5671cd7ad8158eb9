"""The cloud's database (SQLAlchemy 2 async; SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from . import connectors, identity, management  # noqa: F401  (register their tables on Base.metadata)
from .base import Base


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


__all__ = ["Base", "create_tables"]
