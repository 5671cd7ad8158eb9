"""What a managed device learns at check-in, through the real auth and mutual TLS: each SCEP
profile's facts (certificate type, KSP, store, retries, platform, validity, renewal threshold,
its trusted root's profile); retire and wipe (the device is told once, then the state says it
was); the profiles whose certificates it must delete (unassigned, or deleted), until it reports
them deleted; and the managedDevices POST a fleet is created through."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cloud_sim.management import (
    certificate_states_for_device,
    list_revocations,
    pending_revocations,
    record_certificate_removal,
    record_certificate_state,
    record_revocation_result,
    revoke_device_certificates,
)
from cloud_sim.management.enums import CertificateIssuanceState, RevocationReason
from cloud_sim.settings import CloudSettings
from shared.pki import LabPki

from .admin_support import BASE, db, seed_windows_device
from .conftest import NOW
from .device_support import bearer, check_in, enrolled, report, scep_ids
from .identity_support import (  # noqa: F401 (fixtures)
    Lab,
    app_fixture,
    cheap_hashes_fixture,
    lab_fixture,
    user_token,
)

USER_VPN = {
    "displayName": "User VPN",
    "certificateType": "user",
    "subjectNameFormatString": "CN={{UserPrincipalName}}",
    "keyStorageProvider": "useSoftwareKsp",
    "certificateValidityPeriodValue": 6,
    "certificateValidityPeriodScale": "months",
    "renewalThresholdPercentage": 30,
}


async def _seed(
    app: FastAPI, lab: Lab, lab_pki: LabPki, *profiles: dict[str, object]
) -> tuple[str, list[str]]:
    return await seed_windows_device(
        app,
        lab.tenant.id,
        lab.user.id,
        lab.user.user_principal_name,
        lab_pki,
        profiles=profiles or ({},),
    )


async def _states(
    client: httpx.AsyncClient, reader: dict[str, str], device_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"{BASE}/managedDevices/{device_id}/managedDeviceCertificateStates", headers=reader
    )
    assert response.status_code == 200, response.text
    states: list[dict[str, Any]] = response.json()["value"]
    return states


async def test_each_scep_profile_comes_with_what_the_device_needs_to_know(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, (wifi, vpn) = await _seed(app, lab, lab_pki, {}, USER_VPN)
    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        answer = await check_in(device)

    [trusted] = answer["trustedCertificates"]
    by_id = {p["profileId"]: p for p in answer["scepProfiles"]}
    facts = [
        *("platform", "certificateType", "keyStorageProvider", "certificateStore"),
        *("rootCertificateProfileId", "validityPeriod", "validityPeriodValue"),
        *("validityPeriodScale", "renewalThresholdPercentage", "retryCount", "retryDelaySeconds"),
    ]
    assert answer["managementState"] == "managed"
    assert answer["removedProfiles"] == []
    assert trusted["destinationStore"] == "computerCertStoreRoot"
    assert {k: by_id[wifi][k] for k in facts} == {
        "platform": "windows",
        "certificateType": "device",
        "keyStorageProvider": "useTpmKspOtherwiseUseSoftwareKsp",  # the portal's default
        "certificateStore": "machine",  # a device certificate on Windows
        "rootCertificateProfileId": trusted["profileId"],
        "validityPeriod": "1 years",
        "validityPeriodValue": 1,
        "validityPeriodScale": "years",
        "renewalThresholdPercentage": 20,
        "retryCount": 3,
        "retryDelaySeconds": 60,
    }
    assert {k: by_id[vpn][k] for k in facts} == {
        "platform": "windows",
        "certificateType": "user",
        "keyStorageProvider": "useSoftwareKsp",
        "certificateStore": "user",
        "rootCertificateProfileId": trusted["profileId"],
        "validityPeriod": "6 months",
        "validityPeriodValue": 6,
        "validityPeriodScale": "months",
        "renewalThresholdPercentage": 30,
        "retryCount": 3,
        "retryDelaySeconds": 60,
    }
    assert by_id[vpn]["subjectName"] == f"CN={lab.user.user_principal_name}"
    assert by_id[wifi]["challenge"]  # the existing keys are still there
    assert by_id[wifi]["caThumbprint"] == trusted["thumbprint"]


async def test_the_retry_settings_come_from_the_cloud_settings(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient, settings: CloudSettings
) -> None:
    settings.device_retry_count, settings.device_retry_delay_seconds = 1, 2
    device_id, [wifi] = await _seed(app, lab, lab_pki)
    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        [profile] = (await check_in(device))["scepProfiles"]

    assert (profile["profileId"], profile["retryCount"], profile["retryDelaySeconds"]) == (
        wifi,
        1,
        2,
    )


def test_the_retry_defaults_are_intunes_android_payload() -> None:
    settings = CloudSettings()
    assert (settings.device_retry_count, settings.device_retry_delay_seconds) == (3, 60)


@pytest.mark.parametrize(
    ("action", "pending", "issued"),
    [("retire", "retirePending", "retireIssued"), ("wipe", "wipePending", "wipeIssued")],
)
async def test_a_retire_or_wipe_reaches_the_device_at_its_next_check_in(
    app: FastAPI,
    lab: Lab,
    lab_pki: LabPki,
    client: httpx.AsyncClient,
    action: str,
    pending: str,
    issued: str,
) -> None:
    device_id, [profile_id] = await _seed(app, lab, lab_pki)
    admin = bearer(await user_token(client, lab.intune_admin))
    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        assert scep_ids(await check_in(device)) == [profile_id]
        await report(device, profile_id, "installed", serialNumber="5A:01", thumbprint="CD" * 20)
        acted = await client.post(f"{BASE}/managedDevices/{device_id}/{action}", headers=admin)
        assert acted.status_code == 204, acted.text

        told = await check_in(device)
        state_after = (await client.get(f"{BASE}/managedDevices/{device_id}", headers=admin)).json()
        await report(device, profile_id, "deleted")
        again = await check_in(device)

    assert told == {
        "deviceId": device_id,
        "managementState": pending,
        "trustedCertificates": [],
        "scepProfiles": [],
        "removedProfiles": [profile_id],
    }
    assert state_after["managementState"] == issued
    assert again["managementState"] == issued
    assert (again["trustedCertificates"], again["scepProfiles"]) == ([], [])
    assert again["removedProfiles"] == []  # the device reported it deleted
    [state] = [s for s in await _states(client, admin, device_id) if s["certificateSerialNumber"]]
    assert state["certificateIssuanceState"] == "deleted"
    assert state["certificateRevokeStatus"] == "pending"  # queued by the action


async def test_an_unassigned_profile_is_named_until_the_device_reports_it_deleted(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, [kept, dropped] = await _seed(app, lab, lab_pki, {}, USER_VPN)
    admin = bearer(await user_token(client, lab.intune_admin))
    reader = bearer(await user_token(client, lab.reader))
    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        await check_in(device)
        await report(device, kept, "installed", serialNumber="0A:01", thumbprint="AB" * 20)
        await report(device, dropped, "installed", serialNumber="0B:02", thumbprint="CD" * 20)
        unassigned = await client.post(
            f"{BASE}/deviceConfigurations/{dropped}/assign",
            json={"assignments": []},
            headers=admin,
        )
        assert unassigned.status_code == 200, unassigned.text

        told = await check_in(device)
        repeated = await check_in(device)
        await report(device, dropped, "deleted")
        after = await check_in(device)

    assert scep_ids(told) == [kept]
    assert len(told["trustedCertificates"]) == 1
    assert told["removedProfiles"] == [dropped]
    assert repeated["removedProfiles"] == [dropped]  # until the device says it is done
    assert after["removedProfiles"] == []
    by_serial = {s["certificateSerialNumber"]: s for s in await _states(client, reader, device_id)}
    assert by_serial["0b02"]["certificateIssuanceState"] == "deleted"
    assert by_serial["0b02"]["certificateRevokeStatus"] == "pending"
    assert by_serial["0a01"]["certificateIssuanceState"] == "installed"
    assert by_serial["0a01"]["certificateRevokeStatus"] == "none"


async def test_a_deleted_profile_is_named_and_its_deletion_reported(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, [profile_id] = await _seed(app, lab, lab_pki)
    admin = bearer(await user_token(client, lab.intune_admin))
    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        await check_in(device)
        await report(device, profile_id, "installed", serialNumber="0C:03", thumbprint="AB" * 20)
        deleted = await client.delete(f"{BASE}/deviceConfigurations/{profile_id}", headers=admin)
        assert deleted.status_code == 204, deleted.text

        told = await check_in(device)
        await report(device, profile_id, "deleted", serialNumber="0C:03")
        after = await check_in(device)

    assert (scep_ids(told), told["removedProfiles"]) == ([], [profile_id])
    assert after["removedProfiles"] == []
    [state] = [s for s in await _states(client, admin, device_id) if s["certificateSerialNumber"]]
    assert (state["certificateSerialNumber"], state["certificateIssuanceState"]) == (
        "0c03",
        "deleted",
    )


async def test_a_revocation_after_the_deletion_keeps_the_state_deleted(
    app: FastAPI, lab: Lab, lab_pki: LabPki
) -> None:
    device_id, [profile_id] = await _seed(app, lab, lab_pki)
    tenant = lab.tenant.id
    async with db(app) as session:
        await record_certificate_state(
            session,
            tenant,
            device_id=device_id,
            configuration_id=profile_id,
            issuance_state=CertificateIssuanceState.ISSUED,
            now=NOW,
            serial_number="0d04",
            ca_configuration="ca\\Lab Issuing CA",
        )
        await record_certificate_removal(
            session,
            tenant,
            device_id=device_id,
            configuration_id=profile_id,
            issuance_state=CertificateIssuanceState.DELETED,
            now=NOW,
        )
        [queued] = await revoke_device_certificates(
            session, tenant, device_id, RevocationReason.NO_LONGER_TARGETED, now=NOW
        )
        [downloaded] = await pending_revocations(session, tenant, 10, None, now=NOW)
        assert downloaded.request_context == queued.request_context
        await record_revocation_result(
            session,
            tenant,
            queued.request_context,
            succeeded=True,
            error_code=None,
            error_message=None,
            now=NOW,
        )
        [state] = [
            s
            for s in await certificate_states_for_device(session, tenant, device_id)
            if s.serial_number
        ]
        assert [r.state.value for r in await list_revocations(session, tenant)] == ["revoked"]
    assert (state.issuance_state.value, state.revoke_status.value) == ("deleted", "revoked")


async def test_a_deleted_device_is_refused_and_an_unknown_profile_is_a_404(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, _ = await _seed(app, lab, lab_pki)
    admin = bearer(await user_token(client, lab.intune_admin))
    async with enrolled(app, client, await user_token(client, lab.user), device_id) as device:
        unknown = await device.post(
            "/devices/status", json={"profileId": str(uuid.uuid4()), "state": "deleted"}
        )
        unknown_installed = await device.post(
            "/devices/status", json={"profileId": str(uuid.uuid4()), "state": "installed"}
        )
        assert (await client.delete(f"{BASE}/managedDevices/{device_id}", headers=admin)).is_success
        refused = await device.post("/devices/checkin")

    assert unknown.status_code == 204  # a deletion of what the cloud never knew: nothing to record
    assert unknown_installed.status_code == 404
    assert refused.status_code == 403


@pytest.mark.parametrize("platform", ["windows", "ios", "macos", "android"])
async def test_a_device_is_created_for_its_user_by_upn_or_id(
    lab: Lab, client: httpx.AsyncClient, platform: str
) -> None:
    admin = bearer(await user_token(client, lab.intune_admin))
    by_upn = await client.post(
        f"{BASE}/managedDevices",
        json={
            "deviceName": f"{platform}-1",
            "platform": platform,
            "userPrincipalName": lab.user.user_principal_name.upper(),
        },
        headers=admin,
    )
    by_id = await client.post(
        f"{BASE}/managedDevices",
        json={"deviceName": f"{platform}-2", "platform": platform, "userId": lab.user.id},
        headers=admin,
    )
    mismatch = await client.post(
        f"{BASE}/managedDevices",
        json={
            "deviceName": f"{platform}-3",
            "platform": platform,
            "userId": lab.user.id,
            "userPrincipalName": lab.reader.user_principal_name,
        },
        headers=admin,
    )

    for response in (by_upn, by_id):
        assert response.status_code == 201, response.text
        body = response.json()
        assert uuid.UUID(body["id"])
        assert body["platform"] == platform
        assert (body["userId"], body["userPrincipalName"], body["userDisplayName"]) == (
            lab.user.id,
            lab.user.user_principal_name,
            lab.user.display_name,
        )
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["code"] == "BadRequest"
