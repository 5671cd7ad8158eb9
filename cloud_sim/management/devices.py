"""Managed devices: created for the lab (the real service learns them at enrolment), read, and
the three administrative actions that end a device's management — retire, wipe, delete — each
of which changes its managementState, queues a revocation for every SCEP certificate issued to
it (intune-api.md §3.6) and is audited. A deleted device is kept out of sight (404) but not out
of the reports, whose revocations it still feeds."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import ManagedDeviceRow
from .audit import record_audit
from .enums import OPERATING_SYSTEM, ManagementState, Platform, RevocationReason
from .errors import InvalidRequest, NotFound
from .odata import parse_filter
from .profiles import GraphValue
from .records import Actor, AuditResource, DeviceId, ManagedDevice, ModifiedProperty
from .records import RevocationRequest as Revocation
from .revocations import revoke_device_certificates


class NewDevice(GraphValue):
    """A device as the lab creates it (Graph's managedDevice names; `platform` is the lab's)."""

    odata_type: str | None = Field(default=None, alias="@odata.type")  # accepted, not kept
    id: str | None = None
    device_name: str = Field(min_length=1, max_length=255)
    platform: Platform
    operating_system: str | None = None
    os_version: str | None = None
    serial_number: str | None = None
    imei: str | None = None
    meid: str | None = None
    wifi_mac_address: str | None = Field(default=None, alias="wiFiMacAddress")
    azure_ad_device_id: str | None = Field(default=None, alias="azureADDeviceId")
    fully_qualified_domain_name: str | None = None
    user_id: str | None = None
    user_principal_name: str | None = None
    user_display_name: str | None = None
    email_address: str | None = None
    management_state: ManagementState = ManagementState.MANAGED

    @field_validator("id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        return None if value is None else str(uuid.UUID(value))


# $filter on managedDevices: Graph's property name -> column
FILTERABLE = {
    "deviceName": ManagedDeviceRow.device_name,
    "serialNumber": ManagedDeviceRow.serial_number,
    "userPrincipalName": ManagedDeviceRow.user_principal_name,
    "userId": ManagedDeviceRow.user_id,
    "azureADDeviceId": ManagedDeviceRow.azure_ad_device_id,
    "operatingSystem": ManagedDeviceRow.operating_system,
    "managementState": ManagedDeviceRow.management_state,
}


async def create_device(
    session: AsyncSession, tenant_id: str, new: NewDevice, *, actor: Actor, now: dt.datetime
) -> ManagedDevice:
    device_id = new.id or str(uuid.uuid4())
    if await session.get(ManagedDeviceRow, device_id) is not None:
        raise InvalidRequest(f"a managed device with id '{device_id}' already exists")
    values = new.model_dump(
        mode="json", exclude={"odata_type", "id", "platform", "operating_system"}
    )
    row = ManagedDeviceRow(
        id=device_id,
        tenant_id=tenant_id,
        platform=new.platform.value,
        operating_system=new.operating_system or OPERATING_SYSTEM[new.platform],
        enrolled_at=now,
        last_sync_at=now,
        deleted_at=None,
        **values,
    )
    session.add(row)
    await session.flush()
    device = device_from_row(row)
    await _audit(session, device, "Create", "Create ManagedDevice", actor, now)
    return device


async def get_device(
    session: AsyncSession, tenant_id: str, device_id: str, *, include_deleted: bool = False
) -> ManagedDevice:
    """The device, or NotFound (also for another tenant's, and for a deleted one unless
    `include_deleted`)."""
    return device_from_row(
        await _row(session, tenant_id, device_id, include_deleted=include_deleted)
    )


async def devices_by_id(
    session: AsyncSession, tenant_id: str, device_ids: Iterable[str]
) -> dict[str, ManagedDevice]:
    """The tenant's devices among `device_ids` (not deleted), in one query, by id."""
    wanted = list(dict.fromkeys(device_ids))
    if not wanted:
        return {}
    query = select(ManagedDeviceRow).where(
        ManagedDeviceRow.tenant_id == tenant_id,
        ManagedDeviceRow.deleted_at.is_(None),
        ManagedDeviceRow.id.in_(wanted),
    )
    return {row.id: device_from_row(row) for row in await session.scalars(query)}


async def list_devices(
    session: AsyncSession, tenant_id: str, *, filter: str | None = None
) -> list[ManagedDevice]:
    query = select(ManagedDeviceRow).where(
        ManagedDeviceRow.tenant_id == tenant_id, ManagedDeviceRow.deleted_at.is_(None)
    )
    for clause in parse_filter(filter, FILTERABLE):
        column = FILTERABLE[clause.field]
        condition: ColumnElement[bool]
        if clause.op == "eq":
            condition = column == clause.value
        elif clause.op == "ne":
            condition = (column != clause.value) | column.is_(None)
        else:
            condition = column.startswith(clause.value, autoescape=True)
        query = query.where(condition)
    rows = await session.scalars(query.order_by(ManagedDeviceRow.device_name, ManagedDeviceRow.id))
    return [device_from_row(row) for row in rows]


async def retire_device(
    session: AsyncSession, tenant_id: str, device_id: str, *, actor: Actor, now: dt.datetime
) -> tuple[ManagedDevice, list[Revocation]]:
    return await _end(session, tenant_id, device_id, RevocationReason.RETIRE, actor, now)


async def wipe_device(
    session: AsyncSession, tenant_id: str, device_id: str, *, actor: Actor, now: dt.datetime
) -> tuple[ManagedDevice, list[Revocation]]:
    return await _end(session, tenant_id, device_id, RevocationReason.WIPE, actor, now)


async def delete_device(
    session: AsyncSession, tenant_id: str, device_id: str, *, actor: Actor, now: dt.datetime
) -> tuple[ManagedDevice, list[Revocation]]:
    return await _end(session, tenant_id, device_id, RevocationReason.DELETE, actor, now)


async def set_management_state(
    session: AsyncSession, tenant_id: str, device_id: str, state: ManagementState
) -> ManagedDevice:
    """For the device check-in: e.g. a retirePending device that checked in becomes
    retireIssued. Not an administrative action: not audited."""
    row = await _row(session, tenant_id, device_id)
    row.management_state = state.value
    await session.flush()
    return device_from_row(row)


async def record_sync(
    session: AsyncSession, tenant_id: str, device_id: str, now: dt.datetime
) -> ManagedDevice:
    """The device checked in: its lastSyncDateTime moves to `now`."""
    row = await _row(session, tenant_id, device_id)
    row.last_sync_at = now
    await session.flush()
    return device_from_row(row)


_ENDINGS = {
    RevocationReason.RETIRE: (ManagementState.RETIRE_PENDING, "Retire ManagedDevice", "Action"),
    RevocationReason.WIPE: (ManagementState.WIPE_PENDING, "Wipe ManagedDevice", "Action"),
    RevocationReason.DELETE: (ManagementState.DELETE_PENDING, "Delete ManagedDevice", "Delete"),
}


async def _end(
    session: AsyncSession,
    tenant_id: str,
    device_id: str,
    reason: RevocationReason,
    actor: Actor,
    now: dt.datetime,
) -> tuple[ManagedDevice, list[Revocation]]:
    state, activity, operation = _ENDINGS[reason]
    row = await _row(session, tenant_id, device_id)
    before = row.management_state
    row.management_state = state.value
    if reason is RevocationReason.DELETE:
        row.deleted_at = now
    await session.flush()
    device = device_from_row(row)
    queued = await revoke_device_certificates(session, tenant_id, device.id, reason, now=now)
    change = ModifiedProperty("ManagementState", before, state.value)
    await _audit(session, device, operation, activity, actor, now, change)
    return device, queued


async def _audit(
    session: AsyncSession,
    device: ManagedDevice,
    operation: str,
    activity: str,
    actor: Actor,
    now: dt.datetime,
    *changes: ModifiedProperty,
) -> None:
    resource = AuditResource(device.device_name, "ManagedDevice", device.id, changes)
    await record_audit(
        session,
        device.tenant_id,
        actor,
        activity=activity,
        operation_type=operation,
        category="Device",
        component_name="Devices",
        resources=[resource],
        now=now,
    )


async def _row(
    session: AsyncSession, tenant_id: str, device_id: str, *, include_deleted: bool = False
) -> ManagedDeviceRow:
    row = await session.get(ManagedDeviceRow, device_id)
    if row is None or row.tenant_id != tenant_id or (row.deleted_at and not include_deleted):
        raise NotFound("managedDevice", device_id)
    return row


def device_from_row(row: ManagedDeviceRow) -> ManagedDevice:
    """The record of a row (for the other modules of the area that query the table)."""
    return ManagedDevice(
        id=DeviceId(row.id),
        tenant_id=row.tenant_id,
        device_name=row.device_name,
        platform=Platform(row.platform),
        operating_system=row.operating_system,
        os_version=row.os_version,
        serial_number=row.serial_number,
        imei=row.imei,
        meid=row.meid,
        wifi_mac_address=row.wifi_mac_address,
        azure_ad_device_id=row.azure_ad_device_id,
        fully_qualified_domain_name=row.fully_qualified_domain_name,
        user_id=row.user_id,
        user_principal_name=row.user_principal_name,
        user_display_name=row.user_display_name,
        email_address=row.email_address,
        management_state=ManagementState(row.management_state),
        enrolled_at=row.enrolled_at,
        last_sync_at=row.last_sync_at,
        deleted=row.deleted_at is not None,
    )
