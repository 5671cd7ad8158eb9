"""Assignments: Graph's assign (include and exclude groups, replacing), the targeting functions
the device check-in and the validation call, and the revocations an unassignment queues."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cloud_sim.management import (
    is_targeted,
    list_revocations,
    profiles_for_device,
    revoke_untargeted_certificates,
)
from cloud_sim.management.enums import RevocationReason
from shared.pki import LabPki

from .admin_support import (
    ADMIN,
    BASE,
    TENANT,
    assign,
    db,
    new_device,
    new_scep_profile,
    seed_certificate,
    set_groups,
    sign_in,
)
from .conftest import NOW

SALES, LAB, QUARANTINE = "g-sales", "g-lab", "g-quarantine"


@pytest.fixture(autouse=True)
def _admin(app: FastAPI) -> None:
    sign_in(app, ADMIN)


async def test_assign_replaces_the_assignments_and_reads_back(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    _, scep = await new_scep_profile(client, lab_pki)

    first = await assign(client, scep, [SALES, LAB], [QUARANTINE])
    second = await assign(client, scep, [LAB])
    listed = (await client.get(f"{BASE}/deviceConfigurations/{scep}/assignments")).json()

    assert first.status_code == 200, first.text
    targets = [(a["target"]["@odata.type"], a["target"]["groupId"]) for a in first.json()["value"]]
    assert targets == [
        ("#microsoft.graph.groupAssignmentTarget", SALES),
        ("#microsoft.graph.groupAssignmentTarget", LAB),
        ("#microsoft.graph.exclusionGroupAssignmentTarget", QUARANTINE),
    ]
    assert second.json()["value"] == listed["value"]
    assert [a["target"]["groupId"] for a in listed["value"]] == [LAB]
    assert listed["value"][0]["@odata.type"] == "#microsoft.graph.deviceConfigurationAssignment"


@pytest.mark.parametrize(
    "target",
    [
        {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"},
        {"@odata.type": "#microsoft.graph.groupAssignmentTarget"},
    ],
)
async def test_an_unsupported_or_incomplete_target_is_refused(
    client: httpx.AsyncClient, lab_pki: LabPki, target: dict[str, str]
) -> None:
    _, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, [SALES])

    response = await client.post(
        f"{BASE}/deviceConfigurations/{scep}/assign", json={"assignments": [{"target": target}]}
    )

    assert response.status_code == 400
    listed = (await client.get(f"{BASE}/deviceConfigurations/{scep}/assignments")).json()
    assert [a["target"]["groupId"] for a in listed["value"]] == [SALES]


async def test_profiles_for_device_is_include_minus_exclude_on_the_devices_platform(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    laptop = await new_device(client, "LAPTOP-7")
    phone = await new_device(client, "IPHONE-1", platform="ios")
    root, scep = await new_scep_profile(client, lab_pki)
    _, ios_scep = await new_scep_profile(client, lab_pki, "ios")
    for profile in (root, scep, ios_scep):
        await assign(client, profile, [SALES], [QUARANTINE])

    async with db(app) as session:
        in_sales = await profiles_for_device(session, TENANT, laptop, {SALES})
        quarantined = await profiles_for_device(session, TENANT, laptop, {SALES, QUARANTINE})
        elsewhere = await profiles_for_device(session, TENANT, laptop, {LAB})
        on_phone = await profiles_for_device(session, TENANT, phone, {SALES})
        targeted = await is_targeted(session, TENANT, laptop, scep, {SALES})
        not_on_ios = await is_targeted(session, TENANT, laptop, ios_scep, {SALES})
        unknown = await is_targeted(session, TENANT, "no-such-device", scep, {SALES})

    assert [p.id for p in in_sales] == [root, scep]  # the trusted root first
    assert in_sales[1].scep is not None and in_sales[1].scep.root_certificate == root
    assert quarantined == [] and elsewhere == []
    assert [p.id for p in on_phone] == [ios_scep]
    assert (targeted, not_on_ios, unknown) == (True, False, False)


async def test_a_retired_device_is_targeted_by_nothing(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    laptop = await new_device(client)
    _, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, [SALES])

    await client.post(f"{BASE}/managedDevices/{laptop}/retire")

    async with db(app) as session:
        assert await profiles_for_device(session, TENANT, laptop, {SALES}) == []
        assert not await is_targeted(session, TENANT, laptop, scep, {SALES})


async def test_removing_a_group_revokes_for_the_devices_it_untargets(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    sales_laptop = await new_device(client, "LAPTOP-7")
    lab_laptop = await new_device(client, "LAPTOP-8")
    both = await new_device(client, "LAPTOP-9")
    set_groups(app, {sales_laptop: {SALES}, lab_laptop: {LAB}, both: {SALES, LAB}})
    _, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, [SALES, LAB])
    for device, serial in ((sales_laptop, "01"), (lab_laptop, "02"), (both, "03")):
        await seed_certificate(app, device, scep, serial, now=NOW)

    response = await assign(client, scep, [LAB])

    assert response.status_code == 200
    async with db(app) as session:
        queued = await list_revocations(session, TENANT)
    assert [(r.serial_number, r.device_id, r.reason) for r in queued] == [
        ("01", sales_laptop, RevocationReason.UNASSIGNED)
    ]
    audit = (await client.get(f"{BASE}/auditEvents")).json()["value"][0]
    assert audit["activity"] == "Assign DeviceConfiguration"
    assert audit["resources"][0]["modifiedProperties"][0]["newValue"] == f"include:{LAB}"


async def test_an_exclusion_revokes_too(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    laptop = await new_device(client)
    set_groups(app, {laptop: {SALES, QUARANTINE}})
    _, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, [SALES])
    await seed_certificate(app, laptop, scep, "0c", now=NOW)

    await assign(client, scep, [SALES], [QUARANTINE])

    async with db(app) as session:
        assert [r.serial_number for r in await list_revocations(session, TENANT)] == ["0c"]


async def test_unassigning_everything_revokes_whatever_the_groups(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    laptop = await new_device(client)
    set_groups(app, {laptop: {SALES}})
    _, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, [SALES])
    await seed_certificate(app, laptop, scep, "0d", now=NOW)
    await assign(client, scep, [SALES])  # the same assignments: nothing changes

    async with db(app) as session:
        assert await list_revocations(session, TENANT) == []
    await assign(client, scep, [])

    async with db(app) as session:
        queued = await list_revocations(session, TENANT)
    assert [(r.serial_number, r.reason) for r in queued] == [("0d", RevocationReason.UNASSIGNED)]


async def test_the_check_in_revokes_what_no_longer_reaches_the_device(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    laptop = await new_device(client)
    _, kept = await new_scep_profile(client, lab_pki)
    _, dropped = await new_scep_profile(client, lab_pki)
    await assign(client, kept, [LAB])
    await assign(client, dropped, [SALES])
    await seed_certificate(app, laptop, kept, "0e", now=NOW)
    await seed_certificate(app, laptop, dropped, "0f", now=NOW)

    async with db(app) as session:  # the device (or its user) left SALES
        queued = await revoke_untargeted_certificates(session, TENANT, laptop, {LAB}, now=NOW)
        again = await revoke_untargeted_certificates(session, TENANT, laptop, {LAB}, now=NOW)

    assert [(r.serial_number, r.reason) for r in queued] == [
        ("0f", RevocationReason.NO_LONGER_TARGETED)
    ]
    assert again == []


async def test_the_real_membership_feeds_the_unassignment(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    """Without a fake: the identity area's groups, through the route's own lookup."""
    from cloud_sim.domain.identity import GroupMember, MemberKind
    from cloud_sim.store import identity

    laptop = await new_device(client)
    async with db(app) as session:
        await identity.create_tenant(
            session, display_name="Contoso", default_domain="contoso.test", tenant_id=TENANT
        )
        directory = await identity.directory(session, TENANT)
        sales = await directory.create_group("Sales")
        lab = await directory.create_group("Lab")
        await directory.add_member(sales.id, GroupMember(MemberKind.DEVICE, laptop))
    _, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, [sales.id, lab.id])
    await seed_certificate(app, laptop, scep, "10", now=NOW)

    await assign(client, scep, [sales.id])
    async with db(app) as session:
        assert await list_revocations(session, TENANT) == []
    await assign(client, scep, [lab.id])

    async with db(app) as session:
        assert [r.serial_number for r in await list_revocations(session, TENANT)] == ["10"]
