"""Assignments, and which profiles reach which device.

A profile's assignments are Graph's group targets: included groups minus excluded groups. Group
membership belongs to the identity area, so the functions here take the group ids the caller
found for the device and its primary user. When an assignment change leaves a device holding a
certificate of the profile untargeted, its certificates are revoked (intune-api.md §3.6): at
once when the caller can say which groups each such device is in (`groups_of`); and in any case
when the device next checks in (`revoke_untargeted_certificates`), which also covers a device
(or its user) removed from a group.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import (
    CertificateStateRow,
    ConfigurationAssignmentRow,
    DeviceConfigurationRow,
)
from .audit import record_audit
from .configurations import configuration_from_row, get_configuration
from .devices import get_device
from .enums import (
    HELD_STATES,
    LEAVING_STATES,
    AssignmentTargetType,
    ConfigurationKind,
    RevocationReason,
)
from .errors import NotFound
from .records import (
    Actor,
    Assignment,
    AssignmentTarget,
    AuditResource,
    ConfigurationId,
    DeviceConfiguration,
    ManagedDevice,
    ModifiedProperty,
    RevocationRequest,
    targets_groups,
)
from .revocations import revoke_device_certificates

# the group ids of a device and of its primary user (the identity area knows them)
GroupLookup = Callable[[ManagedDevice], Awaitable[frozenset[str]]]


async def assign_configuration(
    session: AsyncSession,
    tenant_id: str,
    configuration_id: str,
    targets: Sequence[AssignmentTarget],
    *,
    actor: Actor,
    now: dt.datetime,
    groups_of: GroupLookup | None = None,
) -> tuple[list[Assignment], list[RevocationRequest]]:
    """Graph's `assign`: the targets replace the profile's assignments. Returns the new
    assignments and the revocations queued for devices the change left untargeted (without
    `groups_of`, only those of a profile left with no included group at all)."""
    configuration = await get_configuration(session, tenant_id, configuration_id)
    old = await list_assignments(session, tenant_id, configuration_id)
    unique = tuple(dict.fromkeys(targets))
    await session.execute(
        delete(ConfigurationAssignmentRow).where(
            ConfigurationAssignmentRow.configuration_id == configuration.id
        )
    )
    rows = [
        ConfigurationAssignmentRow(
            id=f"{configuration.id}_{uuid.uuid4()}",
            tenant_id=tenant_id,
            configuration_id=configuration.id,
            group_id=target.group_id,
            target_type=target.target_type.value,
        )
        for target in unique
    ]
    session.add_all(rows)
    await session.flush()
    new = [_assignment(row) for row in rows]
    queued: list[RevocationRequest] = []
    if configuration.kind is ConfigurationKind.SCEP and {a.target for a in old} != set(unique):
        for device_id in await _holders(session, tenant_id, configuration.id):
            device = await get_device(session, tenant_id, device_id, include_deleted=True)
            still_included = any(not t.excluded for t in unique)
            if still_included and (
                groups_of is None or targets_groups(unique, await groups_of(device))
            ):
                continue
            queued += await revoke_device_certificates(
                session,
                tenant_id,
                device.id,
                RevocationReason.UNASSIGNED,
                now=now,
                configuration_ids=[configuration.id],
            )
    change = ModifiedProperty("Assignments", _describe(old), _describe(new))
    await record_audit(
        session,
        tenant_id,
        actor,
        activity="Assign DeviceConfiguration",
        operation_type="Action",
        category="DeviceConfiguration",
        component_name="DeviceConfiguration",
        resources=[
            AuditResource(
                configuration.display_name, "DeviceConfiguration", configuration.id, (change,)
            )
        ],
        now=now,
    )
    return new, queued


async def list_assignments(
    session: AsyncSession, tenant_id: str, configuration_id: str
) -> list[Assignment]:
    configuration = await get_configuration(session, tenant_id, configuration_id)
    query = select(ConfigurationAssignmentRow).where(
        ConfigurationAssignmentRow.configuration_id == configuration.id
    )
    order = (ConfigurationAssignmentRow.target_type, ConfigurationAssignmentRow.group_id)
    return [_assignment(row) for row in await session.scalars(query.order_by(*order))]


async def profiles_for_device(
    session: AsyncSession, tenant_id: str, device_id: str, group_ids: Iterable[str]
) -> list[DeviceConfiguration]:
    """The profiles that reach the device: its platform's, with an included group among
    `group_ids` (the device's and its primary user's) and no excluded one. Trusted-certificate
    profiles first (a device installs the chain before it asks for a certificate), then by
    creation. A device being retired, wiped or deleted gets none. NotFound for an unknown
    device."""
    device = await get_device(session, tenant_id, device_id)
    if device.management_state in LEAVING_STATES:
        return []
    groups = frozenset(group_ids)
    query = (
        select(DeviceConfigurationRow, ConfigurationAssignmentRow)
        .join(
            ConfigurationAssignmentRow,
            ConfigurationAssignmentRow.configuration_id == DeviceConfigurationRow.id,
        )
        .where(
            DeviceConfigurationRow.tenant_id == tenant_id,
            DeviceConfigurationRow.platform == device.platform.value,
        )
    )
    found: dict[str, tuple[DeviceConfigurationRow, list[AssignmentTarget]]] = {}
    for row, assignment in await session.execute(query):
        found.setdefault(row.id, (row, []))[1].append(_assignment(assignment).target)
    reached = [
        configuration_from_row(row)
        for row, targets in found.values()
        if targets_groups(tuple(targets), groups)
    ]
    trusted_first = {ConfigurationKind.TRUSTED_ROOT: 0, ConfigurationKind.SCEP: 1}
    return sorted(reached, key=lambda c: (trusted_first[c.kind], c.created_at, c.id))


async def is_targeted(
    session: AsyncSession,
    tenant_id: str,
    device_id: str,
    profile_id: str,
    group_ids: Iterable[str],
) -> bool:
    """Does the profile still reach the device? False (not an error) for a device or profile
    that no longer exists: what the validation asks before answering
    ScepProfileNoLongerTargetedToTheClient."""
    try:
        profiles = await profiles_for_device(session, tenant_id, device_id, group_ids)
    except NotFound:
        return False
    return any(profile.id == profile_id for profile in profiles)


async def revoke_untargeted_certificates(
    session: AsyncSession,
    tenant_id: str,
    device_id: str,
    group_ids: Iterable[str],
    *,
    now: dt.datetime,
) -> list[RevocationRequest]:
    """For the device check-in: revoke the device's certificates of every profile that no
    longer reaches it (unassigned, excluded, the device or its user removed from the group)."""
    reached = {p.id for p in await profiles_for_device(session, tenant_id, device_id, group_ids)}
    query = select(CertificateStateRow.configuration_id).where(
        CertificateStateRow.tenant_id == tenant_id, CertificateStateRow.device_id == device_id
    )
    gone = set(await session.scalars(query)) - reached
    if not gone:
        return []
    return await revoke_device_certificates(
        session,
        tenant_id,
        device_id,
        RevocationReason.NO_LONGER_TARGETED,
        now=now,
        configuration_ids=sorted(gone),
    )


async def removed_profiles(
    session: AsyncSession, tenant_id: str, device_id: str, targeted_ids: Iterable[str]
) -> list[str]:
    """For the device check-in: the SCEP profiles (deleted ones included) of which the device
    may still hold a certificate — a state with a serial number in `HELD_STATES` — although
    none of `targeted_ids` (what reaches it now) is theirs. The device should delete those
    certificates and report `deleted`."""
    query = (
        select(CertificateStateRow.configuration_id)
        .where(
            CertificateStateRow.tenant_id == tenant_id,
            CertificateStateRow.device_id == device_id,
            CertificateStateRow.serial_number != "",
            CertificateStateRow.issuance_state.in_([s.value for s in HELD_STATES]),
        )
        .distinct()
    )
    return sorted(set(await session.scalars(query)) - set(targeted_ids))


async def _holders(session: AsyncSession, tenant_id: str, configuration_id: str) -> list[str]:
    """Devices holding a certificate of the profile that could still be revoked."""
    query = (
        select(CertificateStateRow.device_id)
        .where(
            CertificateStateRow.tenant_id == tenant_id,
            CertificateStateRow.configuration_id == configuration_id,
            CertificateStateRow.serial_number != "",
        )
        .distinct()
    )
    return sorted(await session.scalars(query))


def _describe(assignments: Sequence[Assignment]) -> str:
    return ", ".join(
        ("exclude:" if a.target.excluded else "include:") + a.target.group_id for a in assignments
    )


def _assignment(row: ConfigurationAssignmentRow) -> Assignment:
    target = AssignmentTarget(row.group_id, AssignmentTargetType(row.target_type))
    return Assignment(row.id, ConfigurationId(row.configuration_id), target)
