"""Serial numbers stay unique under concurrency: random 159-bit serials, a UNIQUE column, and a
retry with a fresh serial when the database refuses one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509

from ca_sim.app import create_app
from ca_sim.authority import Authority
from shared.api.ca import Disposition
from shared.clock import FixedClock
from shared.pki import LabPki, PrivateKey, new_serial

from .conftest import make_settings
from .support import BASE_URL, all_requests, certificate_of, countersign, csr_der, submit

CONCURRENT = 50


@pytest.fixture
async def any_client(
    tmp_path: Path,
    lab_pki: LabPki,
    any_database_url: str,
    clock: FixedClock,
    authority: Authority,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, lab_pki, any_database_url)
    app = create_app(settings, clock=clock, authority=authority)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url=BASE_URL
        ) as http,
    ):
        yield http


async def test_concurrent_submissions_get_distinct_serials(
    any_client: httpx.AsyncClient,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    requests = [
        countersign(csr_der(device_key, f"CN=device-{i},O=Lab"), *agent) for i in range(CONCURRENT)
    ]

    responses = await asyncio.gather(
        *(submit(any_client, r, transaction_id=f"tx-{i}") for i, r in enumerate(requests))
    )

    replies = [r.json() for r in responses]
    assert all(r["disposition"] == Disposition.ISSUED for r in replies)
    serials = {r["serialNumber"] for r in replies}
    assert len(serials) == CONCURRENT
    assert len({r["requestId"] for r in replies}) == CONCURRENT
    rows = await all_requests(any_client, template="IntuneDeviceCert")
    assert len(rows) == CONCURRENT
    assert {r["serialNumber"] for r in rows} == serials
    assert {r["transactionId"] for r in rows} == {f"tx-{i}" for i in range(CONCURRENT)}
    subjects = {certificate_of(r).subject.rfc4514_string() for r in replies}
    assert subjects == {f"CN=device-{i},O=Lab" for i in range(CONCURRENT)}


class RepeatingSerials:
    """Hands out one serial twice, then fresh ones: the second certificate must clash and the
    CA must draw again."""

    def __init__(self) -> None:
        self.repeated = new_serial()
        self.calls = 0
        self._draws: Iterator[int] = iter([self.repeated, self.repeated])

    def __call__(self) -> int:
        self.calls += 1
        return next(self._draws, None) or new_serial()


@pytest.fixture
def serials() -> Callable[[], int]:
    return RepeatingSerials()


async def test_a_serial_clash_is_retried_with_a_new_serial(
    client: httpx.AsyncClient,
    serials: RepeatingSerials,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    first = (await submit(client, countersign(csr_der(device_key, "CN=a"), *agent))).json()
    second = (await submit(client, countersign(csr_der(device_key, "CN=b"), *agent))).json()

    assert first["serialNumber"] == format(serials.repeated, "x")
    assert second["disposition"] == Disposition.ISSUED
    assert second["serialNumber"] != first["serialNumber"]
    assert serials.calls == 3
    rows = await all_requests(client, template="IntuneDeviceCert")
    assert [r["requestId"] for r in rows] == [first["requestId"], second["requestId"]]
