"""The revocation queue over the wire, shared by the third-party API and the connector API."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from shared.api.intune import (
    DownloadRevocationRequests,
    RevocationErrorCode,
    RevocationRequest,
    RevocationRequests,
    UploadRevocationResults,
)

from ..context import CloudContext
from ..management import pending_revocations, record_revocation_result

ODATA = (
    "{base}/RACerts/StatelessPkiConnectorService/$metadata"
    "#Collection(microsoft.management.services.api.caRevocationRequest)"
)


async def download(
    session: AsyncSession, context: CloudContext, tenant_id: str, body: DownloadRevocationRequests
) -> RevocationRequests:
    parameters = body.download_parameters
    requests = await pending_revocations(
        session,
        tenant_id,
        parameters.max_requests,
        parameters.issuer_name,
        now=context.clock.now(),
    )
    return RevocationRequests.model_validate(
        {
            "@odata.context": ODATA.format(base=context.settings.public_base_url),
            "value": [
                RevocationRequest.model_validate(
                    {
                        "requestContext": r.request_context,
                        "serialNumber": r.serial_number,
                        "issuerName": r.issuer_name,
                        "caConfiguration": r.ca_configuration,
                    }
                )
                for r in requests
            ],
        }
    )


async def upload(
    session: AsyncSession, context: CloudContext, tenant_id: str, body: UploadRevocationResults
) -> dict[str, bool]:
    codes = []
    for result in body.results:  # every code checked before anything is recorded
        try:
            codes.append(RevocationErrorCode.parse(result.error_code))
        except ValueError as exc:
            raise HTTPException(400, f"unknown errorCode {result.error_code!r}") from exc
    for result, code in zip(body.results, codes, strict=True):
        await record_revocation_result(
            session,
            tenant_id,
            result.request_context,
            succeeded=result.succeeded,
            error_code=int(code),
            error_message=result.error_message,
            now=context.clock.now(),
        )
    return {"value": True}
