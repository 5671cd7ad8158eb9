"""The reports (certificate states per device and per profile, device statuses), the audit log,
and the revocation queue as the connector API will drive it."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from fastapi import FastAPI

from cloud_sim.management import (
    InvalidRequest,
    list_revocations,
    pending_revocations,
    queue_revocation,
    record_certificate_state,
    record_device_status,
    record_revocation_result,
)
from cloud_sim.management.enums import (
    CertificateIssuanceState,
    ProfileStatus,
    RevocationReason,
    RevocationState,
)
from cloud_sim.management.revocations import DOWNLOAD_LEASE
from shared.pki import LabPki

from .admin_support import (
    ADMIN,
    BASE,
    CA_CONFIG,
    TENANT,
    db,
    new_device,
    new_scep_profile,
    seed_certificate,
    sign_in,
)
from .conftest import NOW


@pytest.fixture(autouse=True)
def _admin(app: FastAPI) -> None:
    sign_in(app, ADMIN)


async def test_a_certificate_state_goes_from_challenge_to_installed_in_one_row(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    device = await new_device(client, userDisplayName="Alice")
    _, scep = await new_scep_profile(client, lab_pki)
    async with db(app) as session:
        await record_certificate_state(
            session,
            TENANT,
            device_id=device,
            configuration_id=scep,
            issuance_state=CertificateIssuanceState.CHALLENGE_ISSUED,
            now=NOW,
        )
    challenged = (
        await client.get(f"{BASE}/managedDevices/{device}/managedDeviceCertificateStates")
    ).json()
    await seed_certificate(app, device, scep, "7F:00:01", now=NOW + dt.timedelta(minutes=1))
    async with db(app) as session:
        await record_certificate_state(
            session,
            TENANT,
            device_id=device,
            configuration_id=scep,
            serial_number="7f0001",
            issuance_state=CertificateIssuanceState.INSTALLED,
            now=NOW + dt.timedelta(minutes=2),
        )

    installed = (
        await client.get(f"{BASE}/managedDevices/{device}/managedDeviceCertificateStates")
    ).json()

    assert challenged["@odata.context"].endswith(
        f"#deviceManagement/managedDevices('{device}')/managedDeviceCertificateStates"
    )
    assert [s["certificateIssuanceState"] for s in challenged["value"]] == ["challengeIssued"]
    assert challenged["value"][0]["certificateSerialNumber"] is None
    [state] = installed["value"]
    assert state["@odata.type"] == "#microsoft.graph.managedDeviceCertificateState"
    assert state["certificateIssuanceState"] == "installed"
    assert state["certificateRevokeStatus"] == "none"
    assert state["certificateSerialNumber"] == "7f0001"
    assert state["certificateThumbprint"] == "AB" * 20
    assert state["certificateIssuer"] == "CN=Lab Issuing CA,O=intune-scep-lab"
    assert state["certificateKeyLength"] == 2048
    assert state["certificateEnhancedKeyUsage"] == "1.3.6.1.5.5.7.3.2"
    assert state["certificateExpirationDateTime"] == "2027-11-01T09:01:00Z"
    assert state["certificateIssuanceDateTime"] == "2026-11-01T09:01:00Z"
    assert state["deviceDisplayName"] == "LAPTOP-7"
    assert state["userDisplayName"] == "Alice"
    assert state["devicePlatform"] == "windows10AndLater"
    assert state["lastCertificateStateChangeDateTime"] == "2026-11-01T09:02:00Z"


async def test_a_renewal_adds_a_row_and_the_profile_report_shows_both(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    device = await new_device(client)
    _, scep = await new_scep_profile(client, lab_pki)
    await seed_certificate(app, device, scep, "01", now=NOW)
    await seed_certificate(app, device, scep, "02", now=NOW + dt.timedelta(days=300))

    report = (
        await client.get(f"{BASE}/deviceConfigurations/{scep}/managedDeviceCertificateStates")
    ).json()

    assert [s["certificateSerialNumber"] for s in report["value"]] == ["01", "02"]


async def test_a_failed_attempt_reports_its_error_code(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    device = await new_device(client)
    _, scep = await new_scep_profile(client, lab_pki)
    async with db(app) as session:
        await record_certificate_state(
            session,
            TENANT,
            device_id=device,
            configuration_id=scep,
            issuance_state=CertificateIssuanceState.CHALLENGE_VALIDATION_FAILED,
            now=NOW,
            error_code=0x80094800,
        )

    [state] = (
        await client.get(f"{BASE}/deviceConfigurations/{scep}/managedDeviceCertificateStates")
    ).json()["value"]
    assert state["certificateIssuanceState"] == "challengeValidationFailed"
    assert state["certificateErrorCode"] == 0x80094800


async def test_device_statuses_read_back_as_graph_statuses(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    _, scep = await new_scep_profile(client, lab_pki)
    devices = [await new_device(client, f"LAPTOP-{n}") for n in range(3)]
    async with db(app) as session:
        for device, status in zip(
            devices,
            [ProfileStatus.SUCCEEDED, ProfileStatus.ERROR, ProfileStatus.PENDING],
            strict=True,
        ):
            await record_device_status(
                session, TENANT, device_id=device, configuration_id=scep, status=status, now=NOW
            )
        await record_device_status(  # a later report replaces the earlier
            session,
            TENANT,
            device_id=devices[1],
            configuration_id=scep,
            status=ProfileStatus.CONFLICT,
            now=NOW,
        )
    await client.delete(f"{BASE}/managedDevices/{devices[2]}")

    report = (await client.get(f"{BASE}/deviceConfigurations/{scep}/deviceStatuses")).json()

    assert [(s["deviceDisplayName"], s["status"]) for s in report["value"]] == [
        ("LAPTOP-0", "compliant"),
        ("LAPTOP-1", "conflict"),
    ]
    assert report["value"][0]["@odata.type"] == "#microsoft.graph.deviceConfigurationDeviceStatus"
    assert report["value"][0]["userPrincipalName"] == "alice@contoso.test"


async def test_the_audit_log_is_newest_first_and_filterable(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    device = await new_device(client)
    await new_scep_profile(client, lab_pki)
    await client.post(f"{BASE}/managedDevices/{device}/retire")

    events = (await client.get(f"{BASE}/auditEvents")).json()
    devices_only = (await client.get(f"{BASE}/auditEvents", params={"category": "Device"})).json()
    one = (await client.get(f"{BASE}/auditEvents/{events['value'][0]['id']}")).json()

    assert [e["activity"] for e in events["value"]] == [
        "Retire ManagedDevice",
        "Create DeviceConfiguration",
        "Create DeviceConfiguration",
        "Create ManagedDevice",
    ]
    assert [e["activity"] for e in devices_only["value"]] == [
        "Retire ManagedDevice",
        "Create ManagedDevice",
    ]
    assert one["@odata.type"] == "#microsoft.graph.auditEvent"
    assert one["activityOperationType"] == "Action"
    assert one["activityResult"] == "Success"
    assert one["actor"]["type"] == "ItPro"
    assert one["resources"][0]["modifiedProperties"] == [
        {"displayName": "ManagementState", "oldValue": "managed", "newValue": "retirePending"}
    ]
    assert (await client.get(f"{BASE}/auditEvents/nope")).status_code == 404


async def queue(app: FastAPI, *entries: tuple[str, str]) -> list[str]:
    async with db(app) as session:
        return [
            (
                await queue_revocation(
                    session,
                    TENANT,
                    serial_number=serial,
                    issuer_name="CN=Lab Issuing CA",
                    ca_configuration=config,
                    reason=RevocationReason.RETIRE,
                    now=NOW,
                )
            ).request_context
            for serial, config in entries
        ]


async def test_max_requests_truncates_before_the_issuer_filter_quirk_133(app: FastAPI) -> None:
    other = "ca2.lab.test\\Other CA"
    await queue(app, ("01", other), ("02", other), ("03", CA_CONFIG), ("04", CA_CONFIG))

    async with db(app) as session:
        first = await pending_revocations(session, TENANT, 2, CA_CONFIG, now=NOW)
        by_issuer_dn = await pending_revocations(session, TENANT, 10, "CN=Lab Issuing CA", now=NOW)
        second = await pending_revocations(session, TENANT, 10, CA_CONFIG.upper(), now=NOW)
        rest = await pending_revocations(session, TENANT, 10, None, now=NOW)
        nothing = await pending_revocations(session, TENANT, 10, None, now=NOW)
        with pytest.raises(InvalidRequest):
            await pending_revocations(session, TENANT, 501, None, now=NOW)

    assert first == []  # the two oldest are the other CA's: an empty page
    assert by_issuer_dn == []  # the filter compares caConfiguration, not the issuer
    assert [r.serial_number for r in second] == ["03", "04"]
    assert [r.serial_number for r in rest] == ["01", "02"]
    assert {r.state for r in rest} == {RevocationState.DOWNLOADED}
    assert nothing == []


async def test_results_move_the_queue_and_the_certificate_state(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    devices = [await new_device(client, f"LAPTOP-{n}") for n in range(3)]
    _, scep = await new_scep_profile(client, lab_pki)
    for n, device in enumerate(devices):
        await seed_certificate(app, device, scep, f"0{n}", now=NOW)
        await client.post(f"{BASE}/managedDevices/{device}/retire")

    async def revoke_statuses() -> list[tuple[str, str]]:
        path = f"{BASE}/deviceConfigurations/{scep}/managedDeviceCertificateStates"
        states = (await client.get(path)).json()["value"]
        return [(s["certificateRevokeStatus"], s["certificateIssuanceState"]) for s in states]

    async with db(app) as session:
        page = await pending_revocations(session, TENANT, 500, None, now=NOW)
    downloaded = await revoke_statuses()
    outcomes = []
    async with db(app) as session:
        for context, succeeded, code in (
            (page[0].request_context, True, "0"),
            (page[1].request_context, False, "ConflictError"),
            (page[2].request_context, False, 4000),
            (page[2].request_context, True, None),  # delivered twice: the first result stands
            ("no-such-request", True, None),
        ):
            outcomes.append(
                await record_revocation_result(
                    session,
                    TENANT,
                    context,
                    succeeded=succeeded,
                    error_code=code,
                    error_message=None if succeeded else "refused",
                    now=NOW,
                )
            )
        with pytest.raises(InvalidRequest):
            await record_revocation_result(
                session,
                TENANT,
                page[0].request_context,
                succeeded=True,
                error_code="Bogus",
                error_message=None,
                now=NOW,
            )
        queue_now = await list_revocations(session, TENANT)

    assert downloaded == [("issued", "issued")] * 3
    assert outcomes == [True, True, True, True, False]
    assert [
        (r.state, r.error_code.wire_name if r.error_code is not None else None) for r in queue_now
    ] == [
        (RevocationState.REVOKED, "None"),
        (RevocationState.REVOKED, "ConflictError"),
        (RevocationState.FAILED, "NonRetryableServiceException"),
    ]
    assert await revoke_statuses() == [
        ("revoked", "revoked"),
        ("revoked", "revoked"),
        ("failed", "issued"),
    ]


async def test_a_retryable_result_or_a_lapsed_download_puts_the_request_back(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    devices = [await new_device(client, f"LAPTOP-{n}") for n in range(2)]
    _, scep = await new_scep_profile(client, lab_pki)
    for n, device in enumerate(devices):
        await seed_certificate(app, device, scep, f"0{n}", now=NOW)
        await client.post(f"{BASE}/managedDevices/{device}/retire")
    later = NOW + DOWNLOAD_LEASE

    async with db(app) as session:
        first = await pending_revocations(session, TENANT, 500, None, now=NOW)
        await record_revocation_result(
            session,
            TENANT,
            first[0].request_context,
            succeeded=False,
            error_code="ServiceUnavailableException",
            error_message="the CA did not answer",
            now=NOW,
        )
        # the second was downloaded and never answered (the connector died)
        again_at_once = await pending_revocations(session, TENANT, 500, None, now=NOW)
        within_lease = await pending_revocations(
            session, TENANT, 500, None, now=later - dt.timedelta(seconds=1)
        )
        after_lease = await pending_revocations(session, TENANT, 500, None, now=later)

    path = f"{BASE}/deviceConfigurations/{scep}/managedDeviceCertificateStates"
    statuses = [s["certificateRevokeStatus"] for s in (await client.get(path)).json()["value"]]
    assert [r.serial_number for r in first] == ["00", "01"]
    assert [r.serial_number for r in again_at_once] == ["00"]  # retryable: queued again
    assert within_lease == []
    # both were downloaded at NOW and never answered: offered again once the lease lapsed
    assert [r.serial_number for r in after_lease] == ["00", "01"]
    assert statuses == ["issued", "issued"]


async def test_a_late_issued_report_does_not_undo_installed(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    """The device reports its certificate installed before the connector's outbox delivers the
    issuance: the state stays installed, and the issuance's details are filled in."""
    device = await new_device(client)
    _, scep = await new_scep_profile(client, lab_pki)
    async with db(app) as session:
        for state, issuer in (
            (CertificateIssuanceState.INSTALLED, None),
            (CertificateIssuanceState.ISSUED, "CN=Lab Issuing CA"),
        ):
            await record_certificate_state(
                session,
                TENANT,
                device_id=device,
                configuration_id=scep,
                serial_number="5a5a",
                issuance_state=state,
                issuer=issuer,
                now=NOW,
            )
    [row] = (
        await client.get(f"{BASE}/managedDevices/{device}/managedDeviceCertificateStates")
    ).json()["value"]
    assert row["certificateIssuanceState"] == "installed"
    assert row["certificateIssuer"] == "CN=Lab Issuing CA"
