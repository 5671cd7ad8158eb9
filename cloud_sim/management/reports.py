"""The certificate report: Graph's managedDeviceCertificateStates, one row per device, SCEP
profile and certificate (per-device profile statuses are in `statuses`). Written by the
validation, notification and device check-in code; read by the admin API.

A state without a serial number is the device's attempt in progress; when a serial is reported
the attempt becomes that certificate's row, so a renewal adds a row and the old certificate
stays on record (and revocable). Serial numbers are kept as lower-case hex without separators.
The revoke status is the revocation queue's to change, not the reporter's.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import CertificateStateRow
from .configurations import get_configuration
from .devices import get_device
from .enums import (
    DEVICE_PLATFORM_TYPE,
    HELD_STATES,
    LEAVING_STATES,
    CertificateIssuanceState,
    CertificateRevokeStatus,
    RevocationReason,
)
from .errors import InvalidRequest, NotFound
from .records import CertificateState, ConfigurationId, DeviceId
from .revocations import revoke_device_certificates


def normalize_serial(serial: str) -> str:
    return "".join(serial.split()).replace(":", "").lower()


State = CertificateIssuanceState
_LATER_THAN_ISSUED = frozenset(
    s.value
    for s in (
        State.INSTALLED,
        State.INSTALL_FAILED,
        State.REVOKED,
        State.DELETED,
        State.DELETE_FAILED,
        State.REMOVED_FROM_COLLECTION,
    )
)


async def record_certificate_state(
    session: AsyncSession,
    tenant_id: str,
    *,
    device_id: str,
    configuration_id: str,
    issuance_state: CertificateIssuanceState,
    now: dt.datetime,
    serial_number: str | None = None,
    thumbprint: str | None = None,
    issuer: str | None = None,
    ca_configuration: str | None = None,
    certificate_authority: str | None = None,
    expiration: dt.datetime | None = None,
    issued_at: dt.datetime | None = None,
    key_length: int | None = None,
    enhanced_key_usage: str | None = None,
    error_code: int | None = None,
    user_display_name: str | None = None,
) -> CertificateState | None:
    """Upsert the state of the device's certificate from a SCEP profile; fields left None keep
    their value. None for a profile type Intune keeps no report for (Android device owner).
    A certificate reported for a device already being retired, wiped or deleted is queued for
    revocation at once. `issued` never replaces a later state of the same certificate
    (installed, revoked, deleted...): reports from the connector and the device race. NotFound
    for a device or profile unknown in the tenant; InvalidRequest for a profile that is not a
    SCEP profile."""
    device = await get_device(session, tenant_id, device_id, include_deleted=True)
    profile = await get_configuration(session, tenant_id, configuration_id)
    if profile.scep is None:
        raise InvalidRequest(f"deviceConfiguration '{profile.id}' is not a SCEP profile")
    if not profile.type.reports_certificates:
        return None
    serial = normalize_serial(serial_number) if serial_number else ""
    row = await _state_row(session, device.id, profile.id, serial)
    if row is None:
        row = CertificateStateRow(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            device_id=device.id,
            configuration_id=profile.id,
            revoke_status=CertificateRevokeStatus.NONE.value,
            serial_number=serial,
            error_code=0,
            device_display_name=device.device_name,
            user_display_name=device.user_display_name or device.user_principal_name,
            device_platform=DEVICE_PLATFORM_TYPE[device.platform],
        )
        session.add(row)
    row.serial_number = serial
    if not (issuance_state is State.ISSUED and row.issuance_state in _LATER_THAN_ISSUED):
        # the connector's report of the issuance may arrive after the device reported the
        # certificate installed (its outbox delivers when it can): it does not undo that
        row.issuance_state = issuance_state.value
    row.changed_at = now
    for name, value in (
        ("thumbprint", thumbprint and thumbprint.upper()),
        ("issuer", issuer),
        ("ca_configuration", ca_configuration),
        ("certificate_authority", certificate_authority),
        ("expiration", expiration),
        ("issued_at", issued_at),
        ("key_length", key_length),
        ("enhanced_key_usage", enhanced_key_usage),
        ("error_code", error_code),
        ("user_display_name", user_display_name),
    ):
        if value is not None:
            setattr(row, name, value)
    await session.flush()
    if serial and device.management_state in LEAVING_STATES:
        await revoke_device_certificates(
            session,
            tenant_id,
            device.id,
            RevocationReason.DEVICE_LEAVING,
            now=now,
            configuration_ids=[profile.id],
        )
    return _state(row)


async def record_certificate_removal(
    session: AsyncSession,
    tenant_id: str,
    *,
    device_id: str,
    configuration_id: str,
    issuance_state: CertificateIssuanceState,
    now: dt.datetime,
    serial_number: str | None = None,
    error_code: int | None = None,
) -> list[CertificateState]:
    """The device deleted (`issuance_state` deleted) or failed to delete (deleteFailed) its
    certificate of a SCEP profile, deleted or not: the one with `serial_number`, or else every
    one it may hold (`HELD_STATES`). With none on record, as `record_certificate_state`."""
    device = await get_device(session, tenant_id, device_id, include_deleted=True)
    query = select(CertificateStateRow).where(
        CertificateStateRow.tenant_id == tenant_id,
        CertificateStateRow.device_id == device.id,
        CertificateStateRow.configuration_id == configuration_id,
    )
    if serial_number:
        query = query.where(CertificateStateRow.serial_number == normalize_serial(serial_number))
    else:
        query = query.where(
            CertificateStateRow.serial_number != "",
            CertificateStateRow.issuance_state.in_([s.value for s in HELD_STATES]),
        )
    rows = list(await session.scalars(query))
    if not rows:
        try:
            await get_configuration(session, tenant_id, configuration_id)
        except NotFound:
            return []
        state = await record_certificate_state(
            session,
            tenant_id,
            device_id=device.id,
            configuration_id=configuration_id,
            issuance_state=issuance_state,
            now=now,
            serial_number=serial_number,
            error_code=error_code,
        )
        return [] if state is None else [state]
    for row in rows:
        row.issuance_state = issuance_state.value
        row.changed_at = now
        row.error_code = row.error_code if error_code is None else error_code
    await session.flush()
    return [_state(row) for row in rows]


async def certificate_states_for_device(
    session: AsyncSession, tenant_id: str, device_id: str
) -> list[CertificateState]:
    device = await get_device(session, tenant_id, device_id)
    query = _states(tenant_id).where(CertificateStateRow.device_id == device.id)
    return [_state(row) for row in await session.scalars(query)]


async def certificate_states_for_profile(
    session: AsyncSession, tenant_id: str, configuration_id: str
) -> list[CertificateState]:
    profile = await get_configuration(session, tenant_id, configuration_id)
    query = _states(tenant_id).where(CertificateStateRow.configuration_id == profile.id)
    return [_state(row) for row in await session.scalars(query)]


def _states(tenant_id: str) -> Select[CertificateStateRow]:
    order = (CertificateStateRow.device_display_name, CertificateStateRow.changed_at)
    return (
        select(CertificateStateRow)
        .where(CertificateStateRow.tenant_id == tenant_id)
        .order_by(*order, CertificateStateRow.id)
    )


async def _state_row(
    session: AsyncSession, device_id: str, configuration_id: str, serial: str
) -> CertificateStateRow | None:
    """The row to update: the certificate's own; else, for a newly reported serial, the
    attempt in progress."""
    base = select(CertificateStateRow).where(
        CertificateStateRow.device_id == device_id,
        CertificateStateRow.configuration_id == configuration_id,
    )
    for wanted in dict.fromkeys([serial, ""]):
        row = (
            await session.scalars(base.where(CertificateStateRow.serial_number == wanted))
        ).first()
        if row is not None:
            return row
    return None


def _state(row: CertificateStateRow) -> CertificateState:
    return CertificateState(
        id=row.id,
        tenant_id=row.tenant_id,
        device_id=DeviceId(row.device_id),
        configuration_id=ConfigurationId(row.configuration_id),
        issuance_state=CertificateIssuanceState(row.issuance_state),
        revoke_status=CertificateRevokeStatus(row.revoke_status),
        serial_number=row.serial_number,
        thumbprint=row.thumbprint,
        issuer=row.issuer,
        ca_configuration=row.ca_configuration,
        certificate_authority=row.certificate_authority,
        expiration=row.expiration,
        issued_at=row.issued_at,
        key_length=row.key_length,
        enhanced_key_usage=row.enhanced_key_usage,
        error_code=row.error_code,
        device_display_name=row.device_display_name,
        user_display_name=row.user_display_name,
        device_platform=row.device_platform,
        changed_at=row.changed_at,
    )
