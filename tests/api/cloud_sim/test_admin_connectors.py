"""ndesConnectors: registered and kept alive through the service layer, listed by the admin API
with a state the injected clock decides, deleted (and audited)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fastapi import FastAPI

from cloud_sim.management import (
    NotFound,
    find_connector,
    record_heartbeat,
    register_connector,
)
from shared.clock import FixedClock

from .admin_support import ADMIN, BASE, TENANT, db, sign_in
from .conftest import NOW

CONNECTOR_ID = "c0000000-0000-4000-8000-000000000001"


@pytest.fixture(autouse=True)
def _admin(app: FastAPI) -> None:
    sign_in(app, ADMIN)


async def register(app: FastAPI, connector_id: str = CONNECTOR_ID, name: str = "NDES01") -> None:
    async with db(app) as session:
        await register_connector(
            session,
            TENANT,
            display_name=name,
            machine_name=f"{name.lower()}.lab.test",
            connector_version="6.2406.0.1001",
            now=NOW,
            connector_id=connector_id,
        )


async def test_a_registered_connector_is_active_then_inactive_then_active_again(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    await register(app)

    fresh = (await client.get(f"{BASE}/ndesConnectors/{CONNECTOR_ID}")).json()
    clock.advance(dt.timedelta(minutes=10))
    silent = (await client.get(f"{BASE}/ndesConnectors")).json()["value"][0]
    async with db(app) as session:
        await record_heartbeat(session, CONNECTOR_ID, clock.now(), connector_version="6.2410.0.1")
    back = (await client.get(f"{BASE}/ndesConnectors/{CONNECTOR_ID}")).json()

    assert fresh["@odata.type"] == "#microsoft.graph.ndesConnector"
    assert fresh["@odata.context"].endswith("#deviceManagement/ndesConnectors/$entity")
    assert fresh["displayName"] == "NDES01"
    assert fresh["machineName"] == "ndes01.lab.test"
    assert fresh["enrolledDateTime"] == "2026-11-01T09:00:00Z"
    assert (fresh["state"], silent["state"], back["state"]) == ("active", "inactive", "active")
    assert back["lastConnectionDateTime"] == "2026-11-01T09:10:00Z"
    assert back["connectorVersion"] == "6.2410.0.1"


async def test_a_heartbeat_from_the_past_does_not_move_the_last_connection(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await register(app)

    async with db(app) as session:
        await record_heartbeat(session, CONNECTOR_ID, NOW - dt.timedelta(hours=1))

    got = (await client.get(f"{BASE}/ndesConnectors/{CONNECTOR_ID}")).json()
    assert got["lastConnectionDateTime"] == "2026-11-01T09:00:00Z"


async def test_delete_forgets_the_connector_and_is_audited(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await register(app)
    await register(app, "c0000000-0000-4000-8000-000000000002", "NDES02")

    response = await client.delete(f"{BASE}/ndesConnectors/{CONNECTOR_ID}")

    assert response.status_code == 204
    assert (await client.get(f"{BASE}/ndesConnectors/{CONNECTOR_ID}")).status_code == 404
    names = [c["displayName"] for c in (await client.get(f"{BASE}/ndesConnectors")).json()["value"]]
    assert names == ["NDES02"]
    async with db(app) as session:
        assert await find_connector(session, CONNECTOR_ID) is None
        with pytest.raises(NotFound):
            await record_heartbeat(session, CONNECTOR_ID, NOW)
    event = (await client.get(f"{BASE}/auditEvents")).json()["value"][0]
    assert (event["activity"], event["resources"][0]["resourceId"]) == (
        "Delete NdesConnector",
        CONNECTOR_ID,
    )
    again = await client.delete(f"{BASE}/ndesConnectors/{CONNECTOR_ID}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "ResourceNotFound"
