"""Graph's groups through the real auth: create, read, filter by displayName, add and remove
members (users and managed devices) by `$ref`; readers read and cannot write; every write is
audited; and membership is what assignments reach: a device added to a group gets the group's
profile at its next check-in, and one removed is told to delete its certificate."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from shared.pki import LabPki

from .admin_support import BASE
from .device_support import (
    assign,
    bearer,
    check_in,
    created,
    enrolled,
    report,
    scep_ids,
    windows_profiles,
)
from .identity_support import (  # noqa: F401 (fixtures)
    Lab,
    app_fixture,
    assert_graph_error,
    cheap_hashes_fixture,
    lab_fixture,
    user_token,
)

GROUPS = "/v1.0/groups"


def ref(object_id: str) -> dict[str, str]:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{object_id}"}


async def _group(client: httpx.AsyncClient, admin: dict[str, str], name: str) -> str:
    body = {"displayName": name, "mailEnabled": False, "mailNickname": "x", "securityEnabled": True}
    return str((await created(await client.post(GROUPS, json=body, headers=admin)))["id"])


async def _device(client: httpx.AsyncClient, admin: dict[str, str], lab: Lab, name: str) -> str:
    body = {
        "deviceName": name,
        "platform": "windows",
        "userPrincipalName": lab.user.user_principal_name,
    }
    return str(
        (await created(await client.post(f"{BASE}/managedDevices", json=body, headers=admin)))["id"]
    )


async def test_create_read_and_filter_groups(lab: Lab, client: httpx.AsyncClient) -> None:
    admin = bearer(await user_token(client, lab.intune_admin))
    reader = bearer(await user_token(client, lab.reader))
    made = await client.post(
        GROUPS,
        json={"displayName": "Kiosks", "description": "Shared devices", "mailNickname": "kiosks"},
        headers=admin,
    )
    await _group(client, admin, "Kiosks West")

    assert made.status_code == 201, made.text
    group = made.json()
    assert group["@odata.context"] == "https://cloud.test/v1.0/$metadata#groups/$entity"
    assert (group["displayName"], group["description"]) == ("Kiosks", "Shared devices")
    assert (group["securityEnabled"], group["mailEnabled"]) == (True, False)
    assert uuid.UUID(group["id"])
    got = await client.get(f"{GROUPS}/{group['id']}", headers=reader)
    assert got.status_code == 200
    assert {k: got.json()[k] for k in ("id", "displayName")} == {
        "id": group["id"],
        "displayName": "Kiosks",
    }
    exact = await client.get(GROUPS, params={"$filter": "displayName eq 'kiosks'"}, headers=reader)
    assert exact.json()["@odata.context"] == "https://cloud.test/v1.0/$metadata#groups"
    assert [g["id"] for g in exact.json()["value"]] == [group["id"]]
    prefix = await client.get(
        "/beta/groups", params={"$filter": "startswith(displayName,'Kiosks')"}, headers=reader
    )
    assert prefix.json()["@odata.context"] == "https://cloud.test/beta/$metadata#groups"
    assert [g["displayName"] for g in prefix.json()["value"]] == ["Kiosks", "Kiosks West"]
    everything = await client.get(GROUPS, headers=reader)
    assert len(everything.json()["value"]) == 2
    assert_graph_error(
        await client.get(GROUPS, params={"$filter": "mail eq 'x'"}, headers=reader),
        400,
        "BadRequest",
    )
    assert_graph_error(
        await client.get(f"{GROUPS}/{uuid.uuid4()}", headers=reader),
        404,
        "Request_ResourceNotFound",
    )
    assert_graph_error(await client.post(GROUPS, json={}, headers=admin), 400, "BadRequest")


async def test_members_are_users_and_managed_devices(lab: Lab, client: httpx.AsyncClient) -> None:
    admin = bearer(await user_token(client, lab.intune_admin))
    group = await _group(client, admin, "Pilot")
    device = await _device(client, admin, lab, "KIOSK-1")

    added_user = await client.post(
        f"{GROUPS}/{group}/members/$ref", json=ref(lab.user.id), headers=admin
    )
    added_device = await client.post(
        f"{GROUPS}/{group}/members/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/devices/{device}"},
        headers=admin,
    )
    twice = await client.post(f"{GROUPS}/{group}/members/$ref", json=ref(device), headers=admin)
    nobody = await client.post(
        f"{GROUPS}/{group}/members/$ref", json=ref(str(uuid.uuid4())), headers=admin
    )
    garbled = await client.post(
        f"{GROUPS}/{group}/members/$ref", json={"@odata.id": "not a reference"}, headers=admin
    )
    members = (await client.get(f"{GROUPS}/{group}/members", headers=admin)).json()

    assert (added_user.status_code, added_device.status_code) == (204, 204)
    assert_graph_error(twice, 400, "Request_BadRequest")
    assert_graph_error(nobody, 404, "Request_ResourceNotFound")
    assert_graph_error(garbled, 400, "Request_BadRequest")
    assert members["@odata.context"] == "https://cloud.test/v1.0/$metadata#directoryObjects"
    by_type = {m["@odata.type"]: m for m in members["value"]}
    assert set(by_type) == {"#microsoft.graph.user", "#microsoft.graph.device"}
    assert by_type["#microsoft.graph.user"]["id"] == lab.user.id
    assert by_type["#microsoft.graph.user"]["userPrincipalName"] == lab.user.user_principal_name
    assert by_type["#microsoft.graph.device"]["id"] == device  # the Intune device id itself
    assert by_type["#microsoft.graph.device"]["displayName"] == "KIOSK-1"

    removed = await client.delete(f"{GROUPS}/{group}/members/{device}/$ref", headers=admin)
    again = await client.delete(f"{GROUPS}/{group}/members/{device}/$ref", headers=admin)
    left = (await client.get(f"{GROUPS}/{group}/members", headers=admin)).json()["value"]

    assert removed.status_code == 204
    assert_graph_error(again, 404, "Request_ResourceNotFound")
    assert [m["id"] for m in left] == [lab.user.id]
    audit = await client.get(
        f"{BASE}/auditEvents", params={"category": "GroupManagement"}, headers=admin
    )
    assert [e["activity"] for e in audit.json()["value"]] == [
        "Remove member from group",
        "Add member to group",
        "Add member to group",
        "Add group",
    ]
    assert audit.json()["value"][0]["resources"][0]["modifiedProperties"] == [
        {"displayName": "members", "oldValue": f"device:{device}", "newValue": None}
    ]


async def test_readers_read_and_cannot_write_and_tokens_are_required(
    lab: Lab, client: httpx.AsyncClient
) -> None:
    admin = bearer(await user_token(client, lab.intune_admin))
    reader = bearer(await user_token(client, lab.reader))
    user = bearer(await user_token(client, lab.user))
    group = await _group(client, admin, "Pilot")
    await client.post(f"{GROUPS}/{group}/members/$ref", json=ref(lab.user.id), headers=admin)

    for method, path, body in (
        ("POST", GROUPS, {"displayName": "Sneaky"}),
        ("POST", f"{GROUPS}/{group}/members/$ref", ref(lab.reader.id)),
        ("DELETE", f"{GROUPS}/{group}/members/{lab.user.id}/$ref", None),
    ):
        refused = await client.request(method, path, json=body, headers=reader)
        assert_graph_error(refused, 403, "Authorization_RequestDenied")
        anonymous = await client.request(method, path, json=body)
        assert_graph_error(anonymous, 401, "InvalidAuthenticationToken")
    for path in (GROUPS, f"{GROUPS}/{group}", f"{GROUPS}/{group}/members"):
        assert (await client.get(path, headers=reader)).status_code == 200
        assert_graph_error(await client.get(path, headers=user), 403, "Authorization_RequestDenied")
        assert_graph_error(await client.get(path), 401, "InvalidAuthenticationToken")
    members = (await client.get(f"{GROUPS}/{group}/members", headers=reader)).json()["value"]
    names = (await client.get(GROUPS, headers=reader)).json()["value"]
    assert [m["id"] for m in members] == [lab.user.id]  # nothing the reader tried took effect
    assert [g["displayName"] for g in names] == ["Pilot"]


@pytest.mark.parametrize("member", ["device", "user"])
async def test_membership_decides_what_reaches_the_device_at_check_in(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient, member: str
) -> None:
    admin = bearer(await user_token(client, lab.intune_admin))
    device_id = await _device(client, admin, lab, "KIOSK-2")
    group = await _group(client, admin, "Kiosk certificates")
    root, profile = await windows_profiles(client, admin, lab_pki)
    await assign(client, admin, root, group)
    await assign(client, admin, profile, group)
    member_id = device_id if member == "device" else lab.user.id

    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        before = await check_in(device)
        added = await client.post(
            f"{GROUPS}/{group}/members/$ref", json=ref(member_id), headers=admin
        )
        assert added.status_code == 204, added.text
        after = await check_in(device)
        await report(device, profile, "installed", serialNumber="1E:05", thumbprint="AB" * 20)
        removed = await client.delete(f"{GROUPS}/{group}/members/{member_id}/$ref", headers=admin)
        assert removed.status_code == 204, removed.text
        states = await client.get(
            f"{BASE}/managedDevices/{device_id}/managedDeviceCertificateStates", headers=admin
        )
        gone = await check_in(device)

    assert (scep_ids(before), before["trustedCertificates"], before["removedProfiles"]) == (
        [],
        [],
        [],
    )
    assert scep_ids(after) == [profile]
    [scep] = after["scepProfiles"]
    assert scep["challenge"]
    assert scep["subjectName"] == "CN=KIOSK-2"
    assert scep["rootCertificateProfileId"] == root
    assert [t["profileId"] for t in after["trustedCertificates"]] == [root]
    [held] = [s for s in states.json()["value"] if s["certificateSerialNumber"]]
    assert held["certificateRevokeStatus"] == "pending"  # queued when the member was removed
    assert (scep_ids(gone), gone["trustedCertificates"]) == ([], [])
    assert gone["removedProfiles"] == [profile]
