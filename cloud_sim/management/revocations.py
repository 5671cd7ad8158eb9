"""The revocation queue (intune-api.md §1.4, §3.6): the cloud queues a request for each issued
SCEP certificate a trigger touches (retire, wipe, delete, unassign, removal from the group,
profile change); a connector downloads a page, revokes at the CA and uploads the results. Each
step also moves the certificate state's `certificateRevokeStatus`: pending (queued) → issued
(handed to a connector) → revoked | failed.

Quirks of the real service kept on purpose (IRA issue #133, undocumented by Microsoft):
`maxRequests` truncates the queue BEFORE the `issuerName` filter is applied, so a page may be
empty although matching requests wait further down; and `issuerName` is compared with the
request's `caConfiguration`, not with its issuer name.

Nothing is lost when a connector fails half-way: a result with a retryable code (4100-4103: the
CA was down or busy) puts the request back in the queue, and a request downloaded but not
answered within `DOWNLOAD_LEASE` (the connector died, or its upload never arrived) is offered
again. Revoking twice is harmless: the second attempt answers ConflictError, which counts as
revoked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.api.intune import RevocationErrorCode

from ..store.management import CertificateStateRow, RevocationRequestRow
from .enums import CertificateIssuanceState, RevocationReason, RevocationState
from .enums import CertificateRevokeStatus as Revoke
from .errors import InvalidRequest
from .records import DeviceId, RequestContext, RevocationRequest

MAX_REQUESTS = 500
DOWNLOAD_LEASE = dt.timedelta(minutes=10)
"""How long a downloaded request waits for its result before it is offered again."""
# a certificate that has a serial and is not already on its way out may be revoked
_REVOCABLE = (Revoke.NONE.value, Revoke.FAILED.value)


async def queue_revocation(
    session: AsyncSession,
    tenant_id: str,
    *,
    serial_number: str,
    issuer_name: str | None,
    ca_configuration: str | None,
    reason: RevocationReason,
    now: dt.datetime,
    device_id: str | None = None,
    certificate_state_id: str | None = None,
) -> RevocationRequest:
    """Queue one request (state pending). The trigger functions below call this; a lab scenario
    may too, for a certificate the reports do not know."""
    row = RevocationRequestRow(
        request_context=str(uuid.uuid4()),
        tenant_id=tenant_id,
        serial_number=serial_number,
        issuer_name=issuer_name,
        ca_configuration=ca_configuration,
        state=RevocationState.PENDING.value,
        reason=reason.value,
        device_id=device_id,
        certificate_state_id=certificate_state_id,
        error_code=None,
        error_message=None,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return _request(row)


async def revoke_device_certificates(
    session: AsyncSession,
    tenant_id: str,
    device_id: str,
    reason: RevocationReason,
    *,
    now: dt.datetime,
    configuration_ids: Iterable[str] | None = None,
) -> list[RevocationRequest]:
    """Queue a revocation for every issued certificate of the device (of those profiles only,
    when `configuration_ids` is given) that is not already revoked or on its way."""
    query = _revocable(tenant_id).where(CertificateStateRow.device_id == device_id)
    if configuration_ids is not None:
        query = query.where(CertificateStateRow.configuration_id.in_(list(configuration_ids)))
    return await _queue_states(session, await session.scalars(query), reason, now)


async def revoke_profile_certificates(
    session: AsyncSession,
    tenant_id: str,
    configuration_id: str,
    reason: RevocationReason,
    *,
    now: dt.datetime,
    device_ids: Iterable[str] | None = None,
) -> list[RevocationRequest]:
    """The same for every certificate issued through a profile (to those devices only, when
    `device_ids` is given)."""
    query = _revocable(tenant_id).where(CertificateStateRow.configuration_id == configuration_id)
    if device_ids is not None:
        query = query.where(CertificateStateRow.device_id.in_(list(device_ids)))
    return await _queue_states(session, await session.scalars(query), reason, now)


async def pending_revocations(
    session: AsyncSession,
    tenant_id: str,
    max_requests: int,
    issuer_name: str | None,
    *,
    now: dt.datetime,
) -> list[RevocationRequest]:
    """A connector's download: up to `max_requests` (1..500) pending requests, oldest first,
    then — quirk #133 — only those whose caConfiguration equals `issuer_name` (case-insensitive)
    when it is given. The ones returned become `downloaded`; the rest stay pending. A request
    downloaded longer than `DOWNLOAD_LEASE` ago without a result counts as pending again."""
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise InvalidRequest(f"maxRequests must be between 1 and {MAX_REQUESTS}")
    lapsed = and_(
        RevocationRequestRow.state == RevocationState.DOWNLOADED.value,
        RevocationRequestRow.updated_at <= now - DOWNLOAD_LEASE,
    )
    query = (
        select(RevocationRequestRow)
        .where(
            RevocationRequestRow.tenant_id == tenant_id,
            or_(RevocationRequestRow.state == RevocationState.PENDING.value, lapsed),
        )
        .order_by(RevocationRequestRow.seq)
        .limit(max_requests)
    )
    rows = list(await session.scalars(query))
    if issuer_name is not None:
        wanted = issuer_name.casefold()
        rows = [row for row in rows if (row.ca_configuration or "").casefold() == wanted]
    for row in rows:
        row.state = RevocationState.DOWNLOADED.value
        row.updated_at = now
        await _set_revoke_status(session, row, Revoke.ISSUED, now)
    await session.flush()
    return [_request(row) for row in rows]


async def record_revocation_result(
    session: AsyncSession,
    tenant_id: str,
    request_context: str,
    *,
    succeeded: bool,
    error_code: int | str | None,
    error_message: str | None,
    now: dt.datetime,
) -> bool:
    """A connector's uploaded result. `error_code` as either client sends it (4005, "4005",
    "ConflictError"); ConflictError (already revoked) counts as revoked; a retryable code
    (4100-4103) puts the request back in the queue. False for a request context unknown in the
    tenant; a result for an already resolved request changes nothing (a connector may upload
    twice)."""
    try:
        code = (
            RevocationErrorCode.NONE
            if error_code is None
            else RevocationErrorCode.parse(error_code)
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    query = select(RevocationRequestRow).where(
        RevocationRequestRow.tenant_id == tenant_id,
        RevocationRequestRow.request_context == request_context,
    )
    row = (await session.scalars(query)).first()
    if row is None:
        return False
    if row.state in (RevocationState.REVOKED.value, RevocationState.FAILED.value):
        return True
    revoked = succeeded or code is RevocationErrorCode.CONFLICT_ERROR
    if not revoked and code.retryable:
        row.state = RevocationState.PENDING.value
        row.error_code = code.wire_name
        row.error_message = error_message
        row.updated_at = now
        await _set_revoke_status(session, row, Revoke.PENDING, now)
        await session.flush()
        return True
    row.state = (RevocationState.REVOKED if revoked else RevocationState.FAILED).value
    row.error_code = code.wire_name
    row.error_message = error_message
    row.updated_at = now
    await _set_revoke_status(session, row, Revoke.REVOKED if revoked else Revoke.FAILED, now)
    await session.flush()
    return True


async def list_revocations(
    session: AsyncSession, tenant_id: str, *, state: RevocationState | None = None
) -> list[RevocationRequest]:
    """The tenant's queue, oldest first (for the lab's views and tests)."""
    query = select(RevocationRequestRow).where(RevocationRequestRow.tenant_id == tenant_id)
    if state is not None:
        query = query.where(RevocationRequestRow.state == state.value)
    return [
        _request(row) for row in await session.scalars(query.order_by(RevocationRequestRow.seq))
    ]


def _revocable(tenant_id: str) -> Select[CertificateStateRow]:
    return select(CertificateStateRow).where(
        CertificateStateRow.tenant_id == tenant_id,
        CertificateStateRow.serial_number != "",
        CertificateStateRow.revoke_status.in_(_REVOCABLE),
    )


async def _queue_states(
    session: AsyncSession,
    states: Iterable[CertificateStateRow],
    reason: RevocationReason,
    now: dt.datetime,
) -> list[RevocationRequest]:
    queued: list[RevocationRequest] = []
    for state in sorted(states, key=lambda s: (s.changed_at, s.id)):
        state.revoke_status = Revoke.PENDING.value
        state.changed_at = now
        queued.append(
            await queue_revocation(
                session,
                state.tenant_id,
                serial_number=state.serial_number,
                issuer_name=state.issuer,
                ca_configuration=state.ca_configuration,
                reason=reason,
                now=now,
                device_id=state.device_id,
                certificate_state_id=state.id,
            )
        )
    return queued


async def _set_revoke_status(
    session: AsyncSession, request: RevocationRequestRow, status: Revoke, now: dt.datetime
) -> None:
    if request.certificate_state_id is None:
        return
    state = await session.get(CertificateStateRow, request.certificate_state_id)
    if state is None:
        return
    state.revoke_status = status.value
    state.changed_at = now
    if status is Revoke.REVOKED and state.issuance_state != CertificateIssuanceState.DELETED:
        # a certificate the device has deleted stays `deleted`: the revoke status tells the rest
        state.issuance_state = CertificateIssuanceState.REVOKED.value


def _request(row: RevocationRequestRow) -> RevocationRequest:
    return RevocationRequest(
        request_context=RequestContext(row.request_context),
        tenant_id=row.tenant_id,
        serial_number=row.serial_number,
        issuer_name=row.issuer_name,
        ca_configuration=row.ca_configuration,
        state=RevocationState(row.state),
        reason=RevocationReason(row.reason),
        device_id=None if row.device_id is None else DeviceId(row.device_id),
        certificate_state_id=row.certificate_state_id,
        error_code=None if row.error_code is None else RevocationErrorCode.parse(row.error_code),
        error_message=row.error_message,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
