"""The whole suite: under pytest-xdist (scripts/test runs `-n auto`), each worker gets a
PostgreSQL database of its own, so that store tests in two workers never reset each other's
tables."""

from __future__ import annotations

import asyncio
import os

import pytest


async def _fresh_database(url: str, name: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    server = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(server, timeout=30)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TEST_POSTGRES_URL")
    if not worker or not url:
        return
    name = f"scep_lab_{worker}"
    asyncio.run(_fresh_database(url, name))
    os.environ["TEST_POSTGRES_URL"] = f"{url.rsplit('/', 1)[0]}/{name}"
