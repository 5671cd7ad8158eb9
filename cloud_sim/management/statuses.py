"""Per-device profile statuses: the console's Succeeded, Error, Conflict, Pending, Not
applicable, as the device reported them at check-in."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import DeviceStatusRow, ManagedDeviceRow
from .configurations import get_configuration
from .devices import device_from_row, get_device
from .enums import ProfileStatus
from .records import ConfigurationId, DeviceId, DeviceStatus, ManagedDevice


async def record_device_status(
    session: AsyncSession,
    tenant_id: str,
    *,
    device_id: str,
    configuration_id: str,
    status: ProfileStatus,
    now: dt.datetime,
) -> DeviceStatus:
    """Upsert the device's status for the profile (what the device reported at check-in)."""
    device = await get_device(session, tenant_id, device_id, include_deleted=True)
    profile = await get_configuration(session, tenant_id, configuration_id)
    query = select(DeviceStatusRow).where(
        DeviceStatusRow.device_id == device.id, DeviceStatusRow.configuration_id == profile.id
    )
    row = (await session.scalars(query)).first()
    if row is None:
        row = DeviceStatusRow(
            id=f"{profile.id}_{device.id}",
            tenant_id=tenant_id,
            device_id=device.id,
            configuration_id=profile.id,
        )
        session.add(row)
    row.status = status.value
    row.reported_at = now
    await session.flush()
    return _status(row, device)


async def device_statuses_for_profile(
    session: AsyncSession, tenant_id: str, configuration_id: str
) -> list[DeviceStatus]:
    """The profile's per-device statuses (devices deleted since are left out)."""
    profile = await get_configuration(session, tenant_id, configuration_id)
    query = (
        select(DeviceStatusRow, ManagedDeviceRow)
        .join(ManagedDeviceRow, ManagedDeviceRow.id == DeviceStatusRow.device_id)
        .where(
            DeviceStatusRow.tenant_id == tenant_id,
            DeviceStatusRow.configuration_id == profile.id,
            ManagedDeviceRow.deleted_at.is_(None),
        )
        .order_by(ManagedDeviceRow.device_name, DeviceStatusRow.id)
    )
    return [_status(row, device_from_row(device)) for row, device in await session.execute(query)]


def _status(row: DeviceStatusRow, device: ManagedDevice) -> DeviceStatus:
    return DeviceStatus(
        id=row.id,
        tenant_id=row.tenant_id,
        device_id=DeviceId(row.device_id),
        configuration_id=ConfigurationId(row.configuration_id),
        status=ProfileStatus(row.status),
        device_display_name=device.device_name,
        user_principal_name=device.user_principal_name,
        platform=device.platform,
        reported_at=row.reported_at,
    )
