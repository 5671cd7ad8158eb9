"""The cloud in process: a lab PKI built once per session, a fixed clock, the app's lifespan run,
and an httpx client over ASGITransport."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from cloud_sim.app import create_app
from cloud_sim.settings import CloudSettings
from shared.clock import FixedClock
from shared.pki import LabPki, build_lab_pki, default_lab_spec

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    spec = default_lab_spec(b"cloud-tests", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    return build_lab_pki(spec, tmp_path_factory.mktemp("cloud-pki"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(tmp_path: Path) -> CloudSettings:
    return CloudSettings(
        data_dir=tmp_path / "cloud", tls=False, public_base_url="https://cloud.test"
    )


@pytest.fixture
async def app(
    settings: CloudSettings, lab_pki: LabPki, clock: FixedClock
) -> AsyncIterator[FastAPI]:
    application = create_app(settings, pki=lab_pki, clock=clock)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://cloud.test") as http:
        yield http
