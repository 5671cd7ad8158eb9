"""NDES connectors as Intune lists them (Graph's ndesConnector, intune-api.md §3.4): registered
when an administrator signs the connector in, kept alive by its heartbeats. Its `state` is
computed when read, from the injected clock: `active` while the last heartbeat is younger than
`CONNECTOR_ACTIVE_WINDOW`, `inactive` after, `none` if it never called."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..store.management import NdesConnectorRow
from .audit import record_audit
from .errors import InvalidRequest, NotFound
from .records import Actor, AuditResource, ConnectorId, NdesConnector


async def register_connector(
    session: AsyncSession,
    tenant_id: str,
    *,
    display_name: str,
    machine_name: str,
    connector_version: str,
    now: dt.datetime,
    connector_id: str | None = None,
    actor: Actor | None = None,
) -> NdesConnector:
    """A newly signed-in connector (its id is the CN of its identity certificate; chosen here
    when not given). Signing in is a contact: lastConnectionDateTime starts at `now`. Audited
    when `actor` (the administrator who signed it in) is given."""
    new_id = str(uuid.UUID(connector_id)) if connector_id else str(uuid.uuid4())
    if await session.get(NdesConnectorRow, new_id) is not None:
        raise InvalidRequest(f"a connector with id '{new_id}' is already registered")
    row = NdesConnectorRow(
        id=new_id,
        tenant_id=tenant_id,
        display_name=display_name,
        machine_name=machine_name,
        connector_version=connector_version,
        enrolled_at=now,
        last_connection_at=now,
    )
    session.add(row)
    await session.flush()
    connector = _connector(row)
    if actor is not None:
        await _audit(session, connector, "Create", actor, now)
    return connector


async def record_heartbeat(
    session: AsyncSession,
    connector_id: str,
    now: dt.datetime,
    *,
    connector_version: str | None = None,
) -> NdesConnector:
    """The connector called: lastConnectionDateTime moves to `now` (never backwards), and its
    version is updated when it reports one. NotFound for an unknown or deleted connector."""
    row = await session.get(NdesConnectorRow, connector_id)
    if row is None:
        raise NotFound("ndesConnector", connector_id)
    if row.last_connection_at is None or row.last_connection_at < now:
        row.last_connection_at = now
    if connector_version:
        row.connector_version = connector_version
    await session.flush()
    return _connector(row)


async def get_connector(session: AsyncSession, tenant_id: str, connector_id: str) -> NdesConnector:
    row = await session.get(NdesConnectorRow, connector_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("ndesConnector", connector_id)
    return _connector(row)


async def find_connector(session: AsyncSession, connector_id: str) -> NdesConnector | None:
    """The connector whatever its tenant (the connector API knows only the id from the client
    certificate), or None once deleted."""
    row = await session.get(NdesConnectorRow, connector_id)
    return None if row is None else _connector(row)


async def list_connectors(session: AsyncSession, tenant_id: str) -> list[NdesConnector]:
    query = select(NdesConnectorRow).where(NdesConnectorRow.tenant_id == tenant_id)
    order = (NdesConnectorRow.display_name, NdesConnectorRow.id)
    return [_connector(row) for row in await session.scalars(query.order_by(*order))]


async def delete_connector(
    session: AsyncSession, tenant_id: str, connector_id: str, *, actor: Actor, now: dt.datetime
) -> NdesConnector:
    """Forget the connector (its calls are refused from now on: `find_connector` is None)."""
    row = await session.get(NdesConnectorRow, connector_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound("ndesConnector", connector_id)
    connector = _connector(row)
    await session.delete(row)
    await session.flush()
    await _audit(session, connector, "Delete", actor, now)
    return connector


async def _audit(
    session: AsyncSession, connector: NdesConnector, operation: str, actor: Actor, now: dt.datetime
) -> None:
    resource = AuditResource(connector.display_name, "NdesConnector", connector.id)
    await record_audit(
        session,
        connector.tenant_id,
        actor,
        activity=f"{operation} NdesConnector",
        operation_type=operation,
        category="Enrollment",
        component_name="CertificateConnectors",
        resources=[resource],
        now=now,
    )


def _connector(row: NdesConnectorRow) -> NdesConnector:
    return NdesConnector(
        id=ConnectorId(row.id),
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        machine_name=row.machine_name,
        connector_version=row.connector_version,
        enrolled_at=row.enrolled_at,
        last_connection_at=row.last_connection_at,
    )
