"""Microsoft's third-party SCEP validation API, at the URIs discovery hands out:
`{base}/RACerts/ScepRequestValidationFEService/ScepActions/*` (api-version 2018-02-20) and
`{base}/RACerts/PkiConnectorFEService/CertificateAuthorityRequests/*` (api-version 5019-05-05),
for app registrations granted `scep_challenge_provider`. `client-request-id` is echoed back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response

from shared.api.intune import (
    PKI_CONNECTOR_SERVICE,
    REVOCATION_API_VERSION,
    SCEP_API_VERSION,
    SCEP_SERVICE,
    DownloadRevocationRequests,
    FailureNotification,
    RevocationRequests,
    ScepActionResult,
    SuccessNotification,
    UploadRevocationResults,
    ValidateRequest,
)

from .. import scep_actions
from ..auth import ScepProviderCaller
from ..deps import Context, Session
from ..faults import FaultPoint
from .revocation import download, upload

router = APIRouter(tags=["SCEP validation API (third-party CAs)"])
SCEP = f"/RACerts/{SCEP_SERVICE}/ScepActions"
PKI = f"/RACerts/{PKI_CONNECTOR_SERVICE}/CertificateAuthorityRequests"

ClientRequestId = Annotated[str | None, Header(alias="client-request-id")]
ApiVersion = Annotated[str | None, Header(alias="api-version")]


def _checked(
    response: Response, client_request_id: str | None, api_version: str | None, expected: str
) -> None:
    if api_version is not None and api_version != expected:
        raise HTTPException(400, f"api-version {api_version!r} is not supported; use {expected}")
    if client_request_id:
        response.headers["client-request-id"] = client_request_id


@router.post(
    f"{SCEP}/validateRequest", response_model=ScepActionResult, response_model_by_alias=True
)
async def validate_request(
    body: ValidateRequest,
    caller: ScepProviderCaller,
    session: Session,
    context: Context,
    response: Response,
    client_request_id: ClientRequestId = None,
    api_version: ApiVersion = None,
) -> ScepActionResult:
    """Is this SCEP request's challenge genuine, fresh, for this device, and does the CSR match
    it? `code` is `Success` or the reason; anything but Success means: do not issue."""
    _checked(response, client_request_id, api_version, SCEP_API_VERSION)
    context.faults.trip(FaultPoint.VALIDATION)
    return await scep_actions.validate_request(
        session, context, caller.tenant_id, f"app:{caller.object_id}", body.request
    )


@router.post(
    f"{SCEP}/successNotification", response_model=ScepActionResult, response_model_by_alias=True
)
async def success_notification(
    body: SuccessNotification,
    caller: ScepProviderCaller,
    session: Session,
    context: Context,
    response: Response,
    client_request_id: ClientRequestId = None,
    api_version: ApiVersion = None,
) -> ScepActionResult:
    """The CA issued the certificate for a validated request (idempotent)."""
    _checked(response, client_request_id, api_version, SCEP_API_VERSION)
    context.faults.trip(FaultPoint.NOTIFICATION)
    return await scep_actions.success_notification(
        session, context, caller.tenant_id, body.notification
    )


@router.post(
    f"{SCEP}/failureNotification", response_model=ScepActionResult, response_model_by_alias=True
)
async def failure_notification(
    body: FailureNotification,
    caller: ScepProviderCaller,
    session: Session,
    context: Context,
    response: Response,
    client_request_id: ClientRequestId = None,
    api_version: ApiVersion = None,
) -> ScepActionResult:
    """The CA could not issue (its HRESULT is shown to administrators; idempotent)."""
    _checked(response, client_request_id, api_version, SCEP_API_VERSION)
    context.faults.trip(FaultPoint.NOTIFICATION)
    return await scep_actions.failure_notification(
        session, context, caller.tenant_id, body.notification
    )


@router.post(
    f"{PKI}/downloadRevocationRequests",
    response_model=RevocationRequests,
    response_model_by_alias=True,
)
async def download_revocation_requests(
    body: DownloadRevocationRequests,
    caller: ScepProviderCaller,
    session: Session,
    context: Context,
    response: Response,
    client_request_id: ClientRequestId = None,
    api_version: ApiVersion = None,
) -> RevocationRequests:
    """Certificates Intune wants revoked (retired, wiped, deleted devices; unassigned profiles)."""
    _checked(response, client_request_id, api_version, REVOCATION_API_VERSION)
    return await download(session, context, caller.tenant_id, body)


@router.post(f"{PKI}/uploadRevocationResults")
async def upload_revocation_results(
    body: UploadRevocationResults,
    caller: ScepProviderCaller,
    session: Session,
    context: Context,
    response: Response,
    client_request_id: ClientRequestId = None,
    api_version: ApiVersion = None,
) -> dict[str, bool]:
    """What the CA did with each request (`errorCode` as a number, numeric string or name)."""
    _checked(response, client_request_id, api_version, REVOCATION_API_VERSION)
    return await upload(session, context, caller.tenant_id, body)
