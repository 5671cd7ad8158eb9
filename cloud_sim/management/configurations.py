"""Device configurations of the two kinds the lab serves — trusted-certificate profiles and SCEP
certificate profiles, each in its platform's `@odata.type` — created, read, patched and deleted
from Graph-shaped JSON, every change audited.

A SCEP profile names its root as the id of a trusted-certificate profile of the matching type
in the same tenant. Changing a SCEP profile's settings, or deleting it, queues revocation of the
certificates issued through it (intune-api.md §3.6: revoke on SCEP profile change); a trusted
profile that a SCEP profile still names cannot be deleted."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import ConfigurationAssignmentRow, DeviceConfigurationRow
from .audit import record_audit
from .enums import CONFIGURATION_TYPES, ConfigurationKind, ConfigurationType, RevocationReason
from .errors import InvalidRequest, NotFound
from .odata import parse_filter
from .profiles import ScepSettings, TrustedRootSettings, describe_errors
from .records import Actor, AuditResource, ConfigurationId, DeviceConfiguration, ModifiedProperty
from .revocations import revoke_profile_certificates

ODATA_TYPE = "@odata.type"
# read-only or not kept by the lab: accepted in a body and ignored
_IGNORED = frozenset(
    {"id", "version", "createdDateTime", "lastModifiedDateTime", "roleScopeTagIds",
     "supportsScopeTags", "@odata.context"}
)  # fmt: skip


async def create_configuration(
    session: AsyncSession,
    tenant_id: str,
    body: Mapping[str, object],
    *,
    actor: Actor,
    now: dt.datetime,
) -> DeviceConfiguration:
    kind = _type_of(body.get(ODATA_TYPE))
    display_name, description = _common(body, None)
    settings = await _settings(session, tenant_id, kind, _settings_json(body))
    row = DeviceConfigurationRow(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        odata_type=kind.odata_type,
        kind=kind.kind.value,
        platform=kind.platform.value,
        display_name=display_name,
        description=description,
        version=1,
        settings=settings.graph_json(),
        root_certificate_id=settings.root_certificate
        if isinstance(settings, ScepSettings)
        else None,
        created_at=now,
        modified_at=now,
    )
    session.add(row)
    await session.flush()
    configuration = configuration_from_row(row)
    await _audit(session, configuration, "Create", actor, now)
    return configuration


async def update_configuration(
    session: AsyncSession,
    tenant_id: str,
    configuration_id: str,
    patch: Mapping[str, object],
    *,
    actor: Actor,
    now: dt.datetime,
) -> DeviceConfiguration:
    """Graph's PATCH: the given properties replace the stored ones, the whole is validated
    again. A change to a SCEP profile's settings queues revocation of its certificates."""
    row = await _row(session, tenant_id, configuration_id)
    if ODATA_TYPE in patch and _type_of(patch[ODATA_TYPE]).odata_type != row.odata_type:
        raise InvalidRequest(f"the @odata.type of a configuration cannot change ({row.odata_type})")
    kind = CONFIGURATION_TYPES[row.odata_type]
    display_name, description = _common(patch, row)
    before = dict(row.settings)
    settings = await _settings(session, tenant_id, kind, {**before, **_settings_json(patch)})
    after = settings.graph_json()
    changes = [
        ModifiedProperty(name, _dump(before.get(name)), _dump(after.get(name)))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]
    for name, old, new in (("displayName", row.display_name, display_name),
                           ("description", row.description, description)):  # fmt: skip
        if old != new:
            changes.append(ModifiedProperty(name, old, new))
    if not changes:
        return configuration_from_row(row)
    row.settings, row.display_name, row.description = after, display_name, description
    if isinstance(settings, ScepSettings):
        row.root_certificate_id = settings.root_certificate
    row.version += 1
    row.modified_at = now
    await session.flush()
    configuration = configuration_from_row(row)
    if kind.kind is ConfigurationKind.SCEP and after != before:
        await revoke_profile_certificates(
            session, tenant_id, row.id, RevocationReason.PROFILE_CHANGED, now=now
        )
    await _audit(session, configuration, "Patch", actor, now, *changes)
    return configuration


async def delete_configuration(
    session: AsyncSession, tenant_id: str, configuration_id: str, *, actor: Actor, now: dt.datetime
) -> DeviceConfiguration:
    row = await _row(session, tenant_id, configuration_id)
    configuration = configuration_from_row(row)
    if configuration.kind is ConfigurationKind.TRUSTED_ROOT:
        query = select(DeviceConfigurationRow.display_name).where(
            DeviceConfigurationRow.tenant_id == tenant_id,
            DeviceConfigurationRow.root_certificate_id == row.id,
        )
        users = list(await session.scalars(query))
        if users:
            raise InvalidRequest(
                f"the trusted certificate profile is the root of SCEP profile(s) "
                f"{', '.join(sorted(users))}: change or delete them first"
            )
    else:
        await revoke_profile_certificates(
            session, tenant_id, row.id, RevocationReason.PROFILE_DELETED, now=now
        )
    await session.execute(
        delete(ConfigurationAssignmentRow).where(
            ConfigurationAssignmentRow.configuration_id == row.id
        )
    )
    await session.delete(row)
    await session.flush()
    await _audit(session, configuration, "Delete", actor, now)
    return configuration


async def get_configuration(
    session: AsyncSession, tenant_id: str, configuration_id: str
) -> DeviceConfiguration:
    return configuration_from_row(await _row(session, tenant_id, configuration_id))


async def list_configurations(
    session: AsyncSession, tenant_id: str, *, filter: str | None = None
) -> list[DeviceConfiguration]:
    query = select(DeviceConfigurationRow).where(DeviceConfigurationRow.tenant_id == tenant_id)
    for clause in parse_filter(filter, ["displayName"]):
        column = DeviceConfigurationRow.display_name
        if clause.op == "eq":
            query = query.where(column == clause.value)
        elif clause.op == "ne":
            query = query.where(column != clause.value)
        else:
            query = query.where(column.startswith(clause.value, autoescape=True))
    order = (DeviceConfigurationRow.created_at, DeviceConfigurationRow.display_name)
    rows = await session.scalars(query.order_by(*order, DeviceConfigurationRow.id))
    return [configuration_from_row(row) for row in rows]


def _type_of(value: object) -> ConfigurationType:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(
            "@odata.type is required, e.g. #microsoft.graph.iosScepCertificateProfile"
        )
    odata_type = value if value.startswith("#") else f"#{value}"
    if odata_type not in CONFIGURATION_TYPES:
        known = ", ".join(sorted(t.removeprefix("#microsoft.graph.") for t in CONFIGURATION_TYPES))
        raise InvalidRequest(f"the lab does not serve {odata_type} (it serves {known})")
    return CONFIGURATION_TYPES[odata_type]


def _common(
    body: Mapping[str, object], row: DeviceConfigurationRow | None
) -> tuple[str, str | None]:
    name = body.get("displayName", row.display_name if row else None)
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("displayName is required")
    description = body.get("description", row.description if row else None)
    if description is not None and not isinstance(description, str):
        raise InvalidRequest("description must be a string")
    return name.strip(), description


def _settings_json(body: Mapping[str, object]) -> dict[str, object]:
    skip = _IGNORED | {ODATA_TYPE, "displayName", "description"}
    return {key: value for key, value in body.items() if key not in skip}


async def _settings(
    session: AsyncSession, tenant_id: str, kind: ConfigurationType, data: Mapping[str, object]
) -> TrustedRootSettings | ScepSettings:
    model = ScepSettings if kind.kind is ConfigurationKind.SCEP else TrustedRootSettings
    try:
        settings = model.model_validate(data).for_platform(kind.platform)
    except ValidationError as exc:
        message = describe_errors(exc.errors(), kind.odata_type.removeprefix("#"))
        raise InvalidRequest(message) from exc
    if isinstance(settings, ScepSettings):
        root = await session.get(DeviceConfigurationRow, settings.root_certificate)
        if (
            root is None
            or root.tenant_id != tenant_id
            or root.kind != ConfigurationKind.TRUSTED_ROOT
        ):
            raise InvalidRequest(
                f"rootCertificate '{settings.root_certificate}' is not a trusted certificate "
                "profile of this tenant"
            )
        if root.odata_type != kind.trusted_peer:
            raise InvalidRequest(
                f"rootCertificate must be a {kind.trusted_peer} profile, not {root.odata_type}"
            )
    return settings


async def _audit(
    session: AsyncSession,
    configuration: DeviceConfiguration,
    operation: str,
    actor: Actor,
    now: dt.datetime,
    *changes: ModifiedProperty,
) -> None:
    resource = AuditResource(
        configuration.display_name, "DeviceConfiguration", configuration.id, changes
    )
    await record_audit(
        session,
        configuration.tenant_id,
        actor,
        activity=f"{operation} DeviceConfiguration",
        operation_type=operation,
        category="DeviceConfiguration",
        component_name="DeviceConfiguration",
        resources=[resource],
        now=now,
    )


def _dump(value: object) -> str | None:
    return None if value is None else json.dumps(value)


async def _row(
    session: AsyncSession, tenant_id: str, configuration_id: str
) -> DeviceConfigurationRow:
    row = await session.get(DeviceConfigurationRow, configuration_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("deviceConfiguration", configuration_id)
    return row


def configuration_from_row(row: DeviceConfigurationRow) -> DeviceConfiguration:
    """The record of a row (for the other modules of the area that query the table)."""
    model = ScepSettings if row.kind == ConfigurationKind.SCEP else TrustedRootSettings
    return DeviceConfiguration(
        id=ConfigurationId(row.id),
        tenant_id=row.tenant_id,
        odata_type=row.odata_type,
        display_name=row.display_name,
        description=row.description,
        version=row.version,
        created_at=row.created_at,
        modified_at=row.modified_at,
        settings=model.model_validate(row.settings),
    )
