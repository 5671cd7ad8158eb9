"""The audit log: one event per administrative action, timed by the injected clock, read back as
Graph's auditEvents (newest first)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import AuditEventRow
from .errors import NotFound
from .records import Actor, AuditEvent, AuditResource, ModifiedProperty


async def record_audit(
    session: AsyncSession,
    tenant_id: str,
    actor: Actor,
    *,
    activity: str,
    operation_type: str,
    category: str,
    component_name: str,
    resources: Sequence[AuditResource],
    now: dt.datetime,
    result: str = "Success",
) -> AuditEvent:
    """Append an event: `activity` as Graph names it ("Retire ManagedDevice", "Create
    DeviceConfiguration"), `operation_type` Create | Delete | Patch | Action."""
    row = AuditEventRow(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        activity=activity,
        operation_type=operation_type,
        category=category,
        component_name=component_name,
        result=result,
        actor={"objectId": actor.object_id, "name": actor.name, "kind": actor.kind},
        resources=[_resource_json(resource) for resource in resources],
        activity_date_time=now,
    )
    session.add(row)
    await session.flush()
    return _event(row)


async def list_audit_events(
    session: AsyncSession, tenant_id: str, *, category: str | None = None, top: int | None = None
) -> list[AuditEvent]:
    query = select(AuditEventRow).where(AuditEventRow.tenant_id == tenant_id)
    if category is not None:
        query = query.where(AuditEventRow.category == category)
    query = query.order_by(AuditEventRow.seq.desc())
    if top is not None:
        query = query.limit(top)
    return [_event(row) for row in await session.scalars(query)]


async def get_audit_event(session: AsyncSession, tenant_id: str, event_id: str) -> AuditEvent:
    query = select(AuditEventRow).where(
        AuditEventRow.tenant_id == tenant_id, AuditEventRow.id == event_id
    )
    row = (await session.scalars(query)).first()
    if row is None:
        raise NotFound("auditEvent", event_id)
    return _event(row)


def _resource_json(resource: AuditResource) -> dict[str, object]:
    return {
        "displayName": resource.display_name,
        "type": resource.type,
        "resourceId": resource.resource_id,
        "modifiedProperties": [
            {"displayName": p.display_name, "oldValue": p.old_value, "newValue": p.new_value}
            for p in resource.modified_properties
        ],
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _resource(data: dict[str, object]) -> AuditResource:
    props = data.get("modifiedProperties")
    return AuditResource(
        display_name=str(data["displayName"]),
        type=str(data["type"]),
        resource_id=str(data["resourceId"]),
        modified_properties=tuple(
            ModifiedProperty(str(p["displayName"]), _text(p["oldValue"]), _text(p["newValue"]))
            for p in (props if isinstance(props, list) else [])
            if isinstance(p, dict)
        ),
    )


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        tenant_id=row.tenant_id,
        activity=row.activity,
        operation_type=row.operation_type,
        category=row.category,
        component_name=row.component_name,
        actor=Actor(str(row.actor["objectId"]), str(row.actor["name"]), str(row.actor["kind"])),
        activity_date_time=row.activity_date_time,
        result=row.result,
        resources=tuple(_resource(item) for item in row.resources),
    )
