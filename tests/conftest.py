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


SLOWEST_FIRST = (
    "test_scenarios",
    "test_devices",
    "test_lab_control",
    "test_lab_cloud",
    "test_lab_up",
    "test_intune_chain",
    "test_console",
    "test_bench_intune",
    "test_demo",
)
"""The end-to-end modules that take longest (each starts whole labs), slowest first."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first, then the other end-to-end ones, then the rest: with one
    worker a core (each taking whole modules), the long ones then run beside the many short
    ones rather than after them. The order within a module is kept."""

    def rank(item: pytest.Item) -> tuple[int, int]:
        stem = item.path.stem
        if stem in SLOWEST_FIRST:
            return (0, SLOWEST_FIRST.index(stem))
        return (1 if "e2e" in item.path.parts else 2, 0)

    items.sort(key=rank)
