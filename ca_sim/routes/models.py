"""Wire shapes of the CA's admin API that are not in `shared.api.ca` (only administrators and
the lab read them), and the mapping from service values to wire models."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import Field

from shared.api.ca import RequestResult, RevocationReason

from ..authority import Authority, der
from ..service import RequestState


class RequestEntry(RequestResult):
    """One row of the CA database, as `GET /ca/requests` lists it."""

    requester: str
    template: str
    subject: str
    transaction_id: str | None = None
    submitted_at: datetime
    resolved_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: RevocationReason | None = Field(default=None)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def request_result(state: RequestState, authority: Authority) -> RequestResult:
    record, cert = state.record, state.certificate
    return RequestResult(
        request_id=record.id,
        disposition=record.disposition,
        disposition_message=record.message,
        hresult=record.hresult,
        certificate=None if cert is None else _b64(cert.der),
        chain=[] if cert is None else [_b64(der(c)) for c in authority.chain],
        serial_number=None if cert is None else cert.serial,
    )


def request_entry(state: RequestState, authority: Authority) -> RequestEntry:
    record, cert = state.record, state.certificate
    return RequestEntry(
        **request_result(state, authority).model_dump(),
        requester=record.requester,
        template=record.template,
        subject=record.subject,
        transaction_id=record.transaction_id,
        submitted_at=record.submitted_at,
        resolved_at=record.resolved_at,
        revoked_at=None if cert is None else cert.revoked_at,
        revocation_reason=None if cert is None else cert.reason,
    )
