"""Fixtures: one lab PKI per session (building it takes seconds), a fresh CA per test on its own
database, a clock that stands still until moved."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from pydantic import SecretStr

from ca_sim.app import create_app
from ca_sim.authority import Authority
from ca_sim.settings import CaSettings
from shared.clock import FixedClock
from shared.pki import (
    KeySpec,
    LabCert,
    LabPki,
    PrivateKey,
    build_lab_pki,
    default_lab_spec,
    derive_key,
    new_serial,
)

from .support import BASE_URL, NOW, T0, TOKEN

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    folder = tmp_path_factory.mktemp("lab-pki")
    return build_lab_pki(default_lab_spec(b"test", T0, ca_base_url=BASE_URL), folder)


@pytest.fixture(scope="session")
def authority(lab_pki: LabPki) -> Authority:
    """The CA's keys, taken from the lab PKI in memory: loading them from PEM checks each RSA
    key (tens of milliseconds); test_startup covers loading."""
    root, issuing = LabCert.ROOT_CA, LabCert.ISSUING_CA
    return Authority(
        lab_pki.cert(root), lab_pki.key(root), lab_pki.cert(issuing), lab_pki.key(issuing), BASE_URL
    )


@pytest.fixture(scope="session")
def device_key() -> PrivateKey:
    return derive_key(KeySpec.rsa(2048), b"test", "device")


@pytest.fixture(scope="session")
def weak_key() -> PrivateKey:
    return derive_key(KeySpec.rsa(1024), b"test", "weak-device")


@pytest.fixture(scope="session")
def other_key() -> PrivateKey:
    """A second RSA-2048 key: an impostor's, a rogue CA's, a freshly enrolled agent's."""
    return derive_key(KeySpec.rsa(2048), b"test", "other")


@pytest.fixture
def agent(lab_pki: LabPki) -> tuple[x509.Certificate, PrivateKey]:
    """The lab's NDES enrolment agent: certificate and key."""
    label = LabCert.NDES_ENROLLMENT_AGENT
    return lab_pki.cert(label), lab_pki.key(label)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'ca.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """SQLite always; PostgreSQL too when TEST_POSTGRES_URL names one (its tables are reset)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ca.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("set TEST_POSTGRES_URL (postgresql+asyncpg://...) to run on PostgreSQL")
    from ca_sim.store import create_engine, metadata

    engine = create_engine(POSTGRES_URL)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()
    yield POSTGRES_URL


@pytest.fixture
def settings(tmp_path: Path, lab_pki: LabPki, database_url: str) -> CaSettings:
    return make_settings(tmp_path, lab_pki, database_url)


def make_settings(tmp_path: Path, lab_pki: LabPki, database_url: str) -> CaSettings:
    return CaSettings(
        data_dir=tmp_path,
        pki_dir=lab_pki.folder,
        database_url=database_url,
        admin_token=SecretStr(TOKEN),
        public_base_url=BASE_URL,
    )


@pytest.fixture
def serials() -> Callable[[], int]:
    return new_serial


@pytest.fixture
async def client(
    settings: CaSettings, clock: FixedClock, authority: Authority, serials: Callable[[], int]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock, authority=authority, serials=serials)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=BASE_URL
        ) as http,
    ):
        yield http
