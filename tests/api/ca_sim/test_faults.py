"""The CA's lab fault points (`CA_LAB_API=true`): refusing records every submission DENIED with
the armed HRESULT, down answers the request API with a 5xx and records nothing (AIA and CDP stay
up); both count down or last until cleared; the routes need the admin token and do not exist
without the lab API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509

from ca_sim.app import create_app
from ca_sim.authority import Authority
from ca_sim.faults import CaFaultBoard, CaFaultPoint
from ca_sim.hresult import Hresult
from shared.api.ca import Disposition
from shared.clock import FixedClock, OffsetClock
from shared.pki import LabPki, PrivateKey

from .conftest import make_settings
from .support import ADMIN, BASE_URL, all_requests, countersign, csr_der, submit


@pytest.fixture
async def lab_client(
    tmp_path: Path, lab_pki: LabPki, database_url: str, clock: FixedClock, authority: Authority
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, lab_pki, database_url).model_copy(update={"lab_api": True})
    app = create_app(settings, clock=clock, authority=authority)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=BASE_URL) as c,
    ):
        yield c


def _request(agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey) -> bytes:
    return countersign(csr_der(device_key), *agent)


def test_the_board_counts_down_and_refuses_unknown_codes() -> None:
    board = CaFaultBoard()
    board.refuse(Hresult.CERTSRV_E_UNSUPPORTED_CERT_TYPE, times=2)
    board.go_down(status=502)
    assert set(board.armed()) == {CaFaultPoint.REFUSING, CaFaultPoint.DOWN}
    first, second = board.refusal(), board.refusal()
    assert first is not None and second is not None
    assert first.disposition is Disposition.DENIED
    assert first.hresult is Hresult.CERTSRV_E_UNSUPPORTED_CERT_TYPE
    assert board.refusal() is None  # two times, then gone
    assert board.down_status() == 502 and board.down_status() == 502  # until cleared
    board.clear()
    assert board.armed() == {} and board.down_status() is None
    with pytest.raises(ValueError, match="not one of the CA's HRESULTs"):
        board.refuse(0x80070057)
    with pytest.raises(ValueError, match="S_OK"):
        board.refuse(0)
    with pytest.raises(ValueError, match="5xx"):
        board.go_down(status=404)
    with pytest.raises(ValueError, match="times"):
        board.go_down(times=0)


async def test_refusing_records_every_submission_denied_until_cleared(
    lab_client: httpx.AsyncClient,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    code = Hresult.CERTSRV_E_UNSUPPORTED_CERT_TYPE
    before = len(await all_requests(lab_client))  # the lab PKI's RA certificates, adopted
    armed = await lab_client.put(
        "/lab/faults/refusing", json={"hresult": code.value, "times": 2}, headers=ADMIN
    )
    assert armed.status_code == 204
    listed = (await lab_client.get("/lab/faults", headers=ADMIN)).json()
    assert listed == {"refusing": {"hresult": code.value, "times": 2}}
    for _ in range(2):
        reply = (await submit(lab_client, _request(agent, device_key))).json()
        assert reply["disposition"] == Disposition.DENIED
        assert reply["hresult"] == code.value
        assert "lab fault" in reply["dispositionMessage"]
    issued = (await submit(lab_client, _request(agent, device_key))).json()
    assert issued["disposition"] == Disposition.ISSUED
    rows = (await all_requests(lab_client))[before:]
    assert [row["disposition"] for row in rows] == [31, 31, 20]
    bad = await lab_client.put("/lab/faults/refusing", json={"hresult": 1}, headers=ADMIN)
    assert bad.status_code == 400 and "HRESULT" in bad.text


async def test_down_answers_the_request_api_only_and_records_nothing(
    lab_client: httpx.AsyncClient,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    before = await all_requests(lab_client)
    armed = await lab_client.put("/lab/faults/down", json={"status": 503}, headers=ADMIN)
    assert armed.status_code == 204
    assert (await submit(lab_client, _request(agent, device_key))).status_code == 503
    assert (await lab_client.get("/ca/requests", headers=ADMIN)).status_code == 503
    assert (await lab_client.get("/pki/issuing.crt")).status_code == 200  # AIA stays up
    assert (await lab_client.delete("/lab/faults", headers=ADMIN)).status_code == 204
    assert await all_requests(lab_client) == before  # nothing reached the CA while it was down
    reply = await submit(lab_client, _request(agent, device_key))
    assert reply.json()["disposition"] == Disposition.ISSUED


async def test_the_lab_routes_need_the_token_and_the_lab_api(
    lab_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    assert (await lab_client.get("/lab/faults")).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert (await lab_client.delete("/lab/faults", headers=wrong)).status_code == 403
    assert (await client.get("/lab/faults", headers=ADMIN)).status_code == 404  # lab API off


async def test_the_clock_is_set_not_advanced_and_never_goes_back(
    tmp_path: Path, lab_pki: LabPki, database_url: str, authority: Authority
) -> None:
    settings = make_settings(tmp_path, lab_pki, database_url).model_copy(update={"lab_api": True})
    clock = OffsetClock()
    app = create_app(settings, clock=clock, authority=authority)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=BASE_URL) as c,
    ):
        assert (await c.put("/lab/clock", json={"offsetSeconds": 60})).status_code == 401
        for _ in range(2):  # the same offset twice: once, as parties sharing one clock see it
            moved = await c.put("/lab/clock", json={"offsetSeconds": 3600}, headers=ADMIN)
            assert moved.status_code == 200 and moved.json()["offsetSeconds"] == 3600
        back = await c.put("/lab/clock", json={"offsetSeconds": 60}, headers=ADMIN)
        assert back.json()["offsetSeconds"] == 3600
        bad = await c.put("/lab/clock", json={"offsetSeconds": -1}, headers=ADMIN)
        assert bad.status_code == 400 or bad.status_code == 422
    assert clock.offset.total_seconds() == 3600


async def test_a_system_clock_cannot_be_moved(lab_client: httpx.AsyncClient) -> None:
    answer = await lab_client.put("/lab/clock", json={"offsetSeconds": 60}, headers=ADMIN)
    assert answer.status_code == 409
    assert (await lab_client.get("/lab/clock", headers=ADMIN)).json()["movable"] is False
