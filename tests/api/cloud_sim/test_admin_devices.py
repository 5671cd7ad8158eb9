"""managedDevices: create, read, list with $filter, and the retire / wipe / delete actions, each
of which queues revocation of the device's issued SCEP certificates and is audited."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fastapi import FastAPI

from cloud_sim.management import list_revocations, record_sync, set_management_state
from cloud_sim.management.enums import ManagementState, RevocationReason, RevocationState
from shared.clock import FixedClock
from shared.pki import LabPki

from .admin_support import (
    ADMIN,
    BASE,
    TENANT,
    create,
    db,
    device_body,
    new_device,
    new_scep_profile,
    seed_certificate,
    sign_in,
)
from .conftest import NOW


@pytest.fixture(autouse=True)
def _admin(app: FastAPI) -> None:
    sign_in(app, ADMIN)


async def test_a_created_device_reads_back_in_graphs_shape(client: httpx.AsyncClient) -> None:
    body = device_body(
        "LAPTOP-7", imei="356938035643809", wiFiMacAddress="00:11:22:33:44:55", meid="A1000009"
    ) | {"@odata.type": "#microsoft.graph.managedDevice"}
    created = await create(client, "managedDevices", body)

    got = (await client.get(f"{BASE}/managedDevices/{created['id']}")).json()

    assert got["@odata.context"] == (
        "https://cloud.test/beta/$metadata#deviceManagement/managedDevices/$entity"
    )
    assert got["@odata.type"] == "#microsoft.graph.managedDevice"
    assert got["deviceName"] == "LAPTOP-7"
    assert got["operatingSystem"] == "Windows"
    assert got["platform"] == "windows"
    assert got["wiFiMacAddress"] == "00:11:22:33:44:55"
    assert got["azureADDeviceId"] == "0c5e8b7a-1111-4222-8333-444455556666"
    assert got["userPrincipalName"] == "alice@contoso.test"
    assert got["managementState"] == "managed"
    assert got["enrolledDateTime"] == "2026-11-01T09:00:00Z"
    assert {k: got[k] for k in ("imei", "meid")} == {"imei": "356938035643809", "meid": "A1000009"}


async def test_the_list_filters_on_device_name(client: httpx.AsyncClient) -> None:
    for name in ("LAPTOP-7", "LAPTOP-8", "IPHONE-1"):
        await new_device(client, name)

    def names(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [d["deviceName"] for d in response.json()["value"]]

    everything = await client.get(f"{BASE}/managedDevices")
    exact = await client.get(
        f"{BASE}/managedDevices", params={"$filter": "deviceName eq 'LAPTOP-8'"}
    )
    prefix = await client.get(
        f"{BASE}/managedDevices", params={"$filter": "startswith(deviceName,'LAPTOP')"}
    )

    assert names(everything) == ["IPHONE-1", "LAPTOP-7", "LAPTOP-8"]
    assert everything.json()["@odata.context"].endswith("#deviceManagement/managedDevices")
    assert names(exact) == ["LAPTOP-8"]
    assert names(prefix) == ["LAPTOP-7", "LAPTOP-8"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (device_body(platform="symbian"), "platform"),
        ({"platform": "ios"}, "deviceName"),
        (device_body(managementState="sleeping"), "managementState"),
        (device_body(colour="blue"), "colour"),
    ],
)
async def test_a_bad_device_is_refused_in_graphs_error_shape(
    client: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    response = await client.post(f"{BASE}/managedDevices", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
    assert message in response.json()["error"]["message"]
    assert (await client.get(f"{BASE}/managedDevices")).json()["value"] == []


async def test_an_unsupported_filter_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/managedDevices", params={"$filter": "osVersion gt '10'"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"


async def test_an_unknown_device_is_a_graph_404(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-000000000999"
    for response in (
        await client.get(f"{BASE}/managedDevices/{missing}"),
        await client.post(f"{BASE}/managedDevices/{missing}/retire"),
        await client.delete(f"{BASE}/managedDevices/{missing}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ResourceNotFound"


@pytest.mark.parametrize(
    ("action", "state", "activity"),
    [
        ("retire", "retirePending", "Retire ManagedDevice"),
        ("wipe", "wipePending", "Wipe ManagedDevice"),
        ("delete", None, "Delete ManagedDevice"),
    ],
)
async def test_an_action_ends_management_revokes_the_certificates_and_is_audited(
    app: FastAPI,
    client: httpx.AsyncClient,
    lab_pki: LabPki,
    clock: FixedClock,
    action: str,
    state: str | None,
    activity: str,
) -> None:
    device = await new_device(client, "LAPTOP-7")
    bystander = await new_device(client, "LAPTOP-8")
    _, profile = await new_scep_profile(client, lab_pki)
    await seed_certificate(app, device, profile, "1A:2B:3C", now=NOW)
    await seed_certificate(app, bystander, profile, "4d5e", now=NOW)
    clock.advance(dt.timedelta(minutes=5))

    if action == "delete":
        response = await client.delete(f"{BASE}/managedDevices/{device}")
    else:
        response = await client.post(f"{BASE}/managedDevices/{device}/{action}")

    assert response.status_code == 204, response.text
    after = await client.get(f"{BASE}/managedDevices/{device}")
    if state is None:
        assert after.status_code == 404
    else:
        assert after.json()["managementState"] == state
    async with db(app) as session:
        queued = await list_revocations(session, TENANT)
    assert [(r.serial_number, r.state, r.reason) for r in queued] == [
        ("1a2b3c", RevocationState.PENDING, RevocationReason(action))
    ]
    assert queued[0].issuer_name == "CN=Lab Issuing CA,O=intune-scep-lab"
    report = (
        await client.get(f"{BASE}/deviceConfigurations/{profile}/managedDeviceCertificateStates")
    ).json()
    statuses = {s["certificateSerialNumber"]: s["certificateRevokeStatus"] for s in report["value"]}
    assert statuses == {"1a2b3c": "pending", "4d5e": "none"}
    events = (await client.get(f"{BASE}/auditEvents")).json()["value"]
    assert events[0]["activity"] == activity
    assert events[0]["activityDateTime"] == "2026-11-01T09:05:00Z"
    assert events[0]["actor"]["userPrincipalName"] == "admin@contoso.test"
    assert events[0]["resources"][0]["resourceId"] == device


async def test_a_second_retire_queues_nothing_more(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    device = await new_device(client)
    _, profile = await new_scep_profile(client, lab_pki)
    await seed_certificate(app, device, profile, "01", now=NOW)

    await client.post(f"{BASE}/managedDevices/{device}/retire")
    await client.post(f"{BASE}/managedDevices/{device}/wipe")

    async with db(app) as session:
        assert len(await list_revocations(session, TENANT)) == 1


async def test_a_certificate_reported_after_the_retire_is_revoked_at_once(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    device = await new_device(client)
    _, profile = await new_scep_profile(client, lab_pki)
    await client.post(f"{BASE}/managedDevices/{device}/retire")

    await seed_certificate(app, device, profile, "77", now=NOW)  # a late success notification

    async with db(app) as session:
        queued = await list_revocations(session, TENANT)
    assert [(r.serial_number, r.reason) for r in queued] == [
        ("77", RevocationReason.DEVICE_LEAVING)
    ]


async def test_the_check_in_moves_the_sync_time_and_the_state(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    device = await new_device(client, "LAPTOP-7")
    await new_device(client, "LAPTOP-8")
    await client.post(f"{BASE}/managedDevices/{device}/retire")

    async with db(app) as session:
        await record_sync(session, TENANT, device, NOW + dt.timedelta(hours=1))
        await set_management_state(session, TENANT, device, ManagementState.RETIRE_ISSUED)

    got = (await client.get(f"{BASE}/managedDevices/{device}")).json()
    assert (got["lastSyncDateTime"], got["managementState"]) == (
        "2026-11-01T10:00:00Z",
        "retireIssued",
    )
    top = (await client.get(f"{BASE}/managedDevices", params={"$top": "1"})).json()["value"]
    assert [d["deviceName"] for d in top] == ["LAPTOP-7"]
