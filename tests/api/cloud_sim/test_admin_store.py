"""The management area's tables through its service layer, on SQLite and (with
TEST_POSTGRES_URL) on PostgreSQL: values round-trip, the unique keys hold, the queue keeps its
order when the clock stands still."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_sim.management import (
    Actor,
    AssignmentTarget,
    InvalidRequest,
    NewDevice,
    assign_configuration,
    certificate_states_for_device,
    create_configuration,
    create_device,
    get_audit_event,
    get_configuration,
    get_device,
    list_audit_events,
    pending_revocations,
    profiles_for_device,
    record_certificate_state,
    record_heartbeat,
    register_connector,
    retire_device,
)
from cloud_sim.management.enums import (
    AssignmentTargetType,
    CertificateIssuanceState,
    CertificateRevokeStatus,
    ManagementState,
    Platform,
)
from cloud_sim.store import Base, create_tables
from shared.db import create_engine
from shared.pki import LabPki

from .admin_support import TENANT, scep_body, trusted_body

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
WHEN = dt.datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
ACTOR = Actor("a0000000-0000-4000-8000-00000000000a", "admin@contoso.test")


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    elif not POSTGRES_URL:
        pytest.skip("set TEST_POSTGRES_URL (postgresql+asyncpg://...) to run on PostgreSQL")
    else:
        url = POSTGRES_URL
    engine = create_engine(url)
    if request.param == "postgresql":
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
    await create_tables(engine)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def seed(sessions: async_sessionmaker[AsyncSession], lab_pki: LabPki) -> tuple[str, str, str]:
    """A device, a trusted root and a SCEP profile assigned to g-1: their ids."""
    async with sessions() as session, session.begin():
        device = await create_device(
            session,
            TENANT,
            NewDevice.model_validate({"deviceName": "LAPTOP-7", "platform": "windows"}),
            actor=ACTOR,
            now=WHEN,
        )
        root = await create_configuration(
            session, TENANT, trusted_body(lab_pki), actor=ACTOR, now=WHEN
        )
        scep = await create_configuration(
            session, TENANT, scep_body(root.id), actor=ACTOR, now=WHEN
        )
        for profile in (root, scep):
            await assign_configuration(
                session, TENANT, profile.id, [AssignmentTarget("g-1")], actor=ACTOR, now=WHEN
            )
    return device.id, root.id, scep.id


async def test_records_round_trip(
    sessions: async_sessionmaker[AsyncSession], lab_pki: LabPki
) -> None:
    device_id, root_id, scep_id = await seed(sessions, lab_pki)

    async with sessions() as session:
        device = await get_device(session, TENANT, device_id)
        scep = await get_configuration(session, TENANT, scep_id)
        reached = await profiles_for_device(session, TENANT, device_id, {"g-1"})
        events = await list_audit_events(session, TENANT)
        again = await get_audit_event(session, TENANT, events[0].id)

    assert device.platform is Platform.WINDOWS
    assert device.management_state is ManagementState.MANAGED
    assert device.enrolled_at == WHEN and device.enrolled_at.tzinfo is not None
    assert scep.created_at == WHEN
    assert scep.scep is not None and scep.scep.root_certificate == root_id
    assert scep.scep.graph_json()["keyUsage"] == "keyEncipherment,digitalSignature"
    assert [p.id for p in reached] == [root_id, scep_id]
    assert again == events[0]
    assert [e.activity for e in events][:2] == ["Assign DeviceConfiguration"] * 2
    assert events[0].resources[0].modified_properties[0].new_value == "include:g-1"


async def test_a_certificate_keeps_one_row_whatever_the_serials_spelling(
    sessions: async_sessionmaker[AsyncSession], lab_pki: LabPki
) -> None:
    device_id, _, scep_id = await seed(sessions, lab_pki)
    steps = [
        (CertificateIssuanceState.CHALLENGE_ISSUED, None),
        (CertificateIssuanceState.ISSUED, "7F:00:AB"),
        (CertificateIssuanceState.INSTALLED, "7f 00 ab"),
    ]
    for state, serial in steps:
        async with sessions() as session, session.begin():
            await record_certificate_state(
                session,
                TENANT,
                device_id=device_id,
                configuration_id=scep_id,
                issuance_state=state,
                now=WHEN,
                serial_number=serial,
                expiration=WHEN + dt.timedelta(days=365) if serial else None,
            )

    async with sessions() as session:
        [row] = await certificate_states_for_device(session, TENANT, device_id)
    assert row.serial_number == "7f00ab"
    assert row.issuance_state is CertificateIssuanceState.INSTALLED
    assert row.expiration == WHEN + dt.timedelta(days=365)
    assert row.revoke_status is CertificateRevokeStatus.NONE


async def test_the_queue_keeps_its_order_when_the_clock_stands_still(
    sessions: async_sessionmaker[AsyncSession], lab_pki: LabPki
) -> None:
    device_id, _, scep_id = await seed(sessions, lab_pki)
    serials = [f"{n:02x}" for n in range(12)]
    async with sessions() as session, session.begin():
        for serial in serials:
            await record_certificate_state(
                session,
                TENANT,
                device_id=device_id,
                configuration_id=scep_id,
                issuance_state=CertificateIssuanceState.ISSUED,
                now=WHEN,
                serial_number=serial,
                ca_configuration="ca\\Lab Issuing CA",
            )
        _, queued = await retire_device(session, TENANT, device_id, actor=ACTOR, now=WHEN)

    async with sessions() as session, session.begin():
        first = await pending_revocations(session, TENANT, 5, None, now=WHEN)
        rest = await pending_revocations(session, TENANT, 500, "CA\\LAB ISSUING CA", now=WHEN)

    assert [r.serial_number for r in first + rest] == [r.serial_number for r in queued]
    assert sorted(r.serial_number for r in queued) == serials


async def test_connector_heartbeats_and_a_duplicate_id(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connector_id = "c0000000-0000-4000-8000-000000000001"
    async with sessions() as session, session.begin():
        await register_connector(
            session,
            TENANT,
            display_name="NDES01",
            machine_name="ndes01",
            connector_version="6",
            now=WHEN,
            connector_id=connector_id,
        )
    async with sessions() as session, session.begin():
        beat = await record_heartbeat(session, connector_id, WHEN + dt.timedelta(minutes=11))
        with pytest.raises(InvalidRequest, match="already registered"):
            await register_connector(
                session,
                TENANT,
                display_name="again",
                machine_name="x",
                connector_version="6",
                now=WHEN,
                connector_id=connector_id.upper(),
            )

    assert beat.last_connection_at == WHEN + dt.timedelta(minutes=11)
    assert beat.state_at(WHEN + dt.timedelta(minutes=20)).value == "active"
    assert beat.state_at(WHEN + dt.timedelta(minutes=21)).value == "inactive"


async def test_an_exclusion_row_and_an_inclusion_row_may_name_one_group(
    sessions: async_sessionmaker[AsyncSession], lab_pki: LabPki
) -> None:
    device_id, _, scep_id = await seed(sessions, lab_pki)
    both = [
        AssignmentTarget("g-1"),
        AssignmentTarget("g-1", AssignmentTargetType.EXCLUDE),
        AssignmentTarget("g-1"),  # a duplicate is kept once
    ]
    async with sessions() as session, session.begin():
        assignments, _ = await assign_configuration(
            session, TENANT, scep_id, both, actor=ACTOR, now=WHEN
        )
        reached = await profiles_for_device(session, TENANT, device_id, {"g-1"})

    assert len(assignments) == 2
    assert scep_id not in [p.id for p in reached]  # exclusion wins
