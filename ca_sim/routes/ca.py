"""The CA's API: submit (NDES), request status, the certificate manager's list, approve and
deny, and revoke (administrators and the connector).

A refused request is not an HTTP error: it is recorded and answered 200 with its disposition and
HRESULT, as AD CS answers ICertRequest. HTTP errors are for what never reached the CA database:
400 malformed input, 401 no credentials, 403 a wrong token, 404 no such request, 409 a request
whose status does not allow the operation, 413 a body over 64 KiB.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from shared import trace
from shared.api.ca import (
    Disposition,
    RequestResult,
    RevokeRequest,
    RevokeResult,
    SubmitRequest,
)

from ..errors import MalformedInput
from ..records import RequestQuery
from ..service import CaService, RequestState
from .auth import optional_admin, require_admin
from .models import RequestEntry, request_entry, request_result

router = APIRouter(prefix="/ca", tags=["ca"])

MAX_NAME = 255  # template names and transaction IDs (the database's column width)


def service_of(request: Request) -> CaService:
    service: CaService = request.app.state.service
    return service


Service = Annotated[CaService, Depends(service_of)]
Admin = Annotated[str, Depends(require_admin)]
MaybeAdmin = Annotated[str | None, Depends(optional_admin)]


@router.post("/submit", response_model=RequestResult)
async def submit(body: SubmitRequest, service: Service, caller: MaybeAdmin) -> RequestResult:
    """Submit a PKCS#10: countersigned by an enrolment agent (CMS SignedData), or bare with the
    admin token for templates the NDES service account enrols for itself."""
    if not body.template.strip() or len(body.template) > MAX_NAME:
        raise MalformedInput(f"template must be a name of 1 to {MAX_NAME} characters")
    if body.transaction_id is not None and len(body.transaction_id) > MAX_NAME:
        raise MalformedInput(f"transactionId is longer than {MAX_NAME} characters")
    try:
        der_request = base64.b64decode("".join(body.request.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(f"request is not base64: {exc}") from exc
    if not der_request:
        raise MalformedInput("request is empty")
    state = await service.submit(der_request, body.template, body.transaction_id, caller)
    result = request_result(state, service.authority)
    _trace_result(state, result)
    return result


@router.get("/requests/{request_id}", response_model=RequestResult)
async def get_request(request_id: int, service: Service) -> RequestResult:
    """A request's state now: a pending one reads ISSUED once approved, REVOKED once revoked."""
    state = await service.get(request_id)
    result = request_result(state, service.authority)
    _trace_result(state, result)
    return result


def _trace_result(state: RequestState, result: RequestResult) -> None:
    """What the trace says of a request's state: from the records, nothing decoded again."""
    record, cert = state.record, state.certificate
    issued = result.disposition in (Disposition.ISSUED, Disposition.REVOKED)
    trace.annotate(
        transaction_id=record.transaction_id,
        outcome=None if issued or result.disposition is Disposition.PENDING else "refused",
        template=record.template,
        request_id=result.request_id,
        disposition=result.disposition.name,
        serial=result.serial_number,
        certificate=None
        if cert is None
        else {
            "subject": cert.subject,
            "serial": cert.serial,
            "not_before": cert.not_before.isoformat(),
            "not_after": cert.not_after.isoformat(),
        },
        reason={"hresult": result.hresult, "detail": result.disposition_message}
        if result.hresult
        else None,
    )


@router.get("/requests", response_model=list[RequestEntry])
async def list_requests(
    service: Service,
    _admin: Admin,
    disposition: str | None = None,
    requester: str | None = None,
    template: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RequestEntry]:
    """The CA database, oldest first. `disposition` by number or name (`pending`, `20`);
    `requester` matches a part, case-insensitively; `template` the whole name."""
    query = RequestQuery(
        disposition=None if disposition is None else parse_disposition(disposition),
        requester=requester,
        template=template,
        limit=limit,
        offset=offset,
    )
    return [request_entry(state, service.authority) for state in await service.search(query)]


@router.post("/requests/{request_id}/approve", response_model=RequestResult)
async def approve(request_id: int, service: Service, admin: Admin) -> RequestResult:
    """Issue a pending request now."""
    return request_result(await service.approve(request_id, by=admin), service.authority)


@router.post("/requests/{request_id}/deny", response_model=RequestResult)
async def deny(request_id: int, service: Service, admin: Admin) -> RequestResult:
    """Deny a pending request (CERTSRV_E_ADMIN_DENIED_REQUEST)."""
    return request_result(await service.deny(request_id, by=admin), service.authority)


@router.post("/revoke", response_model=RevokeResult)
async def revoke(body: RevokeRequest, service: Service, admin: Admin) -> RevokeResult:
    """Revoke by serial number (hex); the issuing CA's CRL is republished at once."""
    outcome = await service.revoke(body.serial_number, body.reason, by=admin)
    trace.annotate(serial=outcome.serial, revoked=outcome.revoked)
    return RevokeResult(
        serial_number=outcome.serial,
        revoked=outcome.revoked,
        hresult=outcome.hresult,
        message=outcome.message,
    )


def parse_disposition(text: str) -> Disposition:
    """A disposition by number (`20`) or name (`issued`)."""
    text = text.strip()
    try:
        return Disposition(int(text)) if text.isdigit() else Disposition[text.upper()]
    except (KeyError, ValueError) as exc:
        names = ", ".join(f"{d.name.lower()} ({d.value})" for d in Disposition)
        raise MalformedInput(f"unknown disposition {text!r}; one of {names}") from exc
