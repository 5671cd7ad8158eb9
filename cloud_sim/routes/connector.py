"""The Certificate Connector's API. Sign-in (`/connector/enroll`) takes an Intune
administrator's bearer token and a CSR and answers with the connector's identity certificate from
the Microsoft Intune ImportPFX Connector CA; every other call must come over mutual TLS with that
certificate (live by the lab clock, the connector's current one, its connector not deleted)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.api.intune import (
    DownloadRevocationRequests,
    FailureNotification,
    RevocationRequests,
    ScepActionResult,
    SuccessNotification,
    UploadRevocationResults,
    ValidateRequest,
)
from shared.pki import LabCert

from .. import scep_actions
from ..auth import AdminCaller
from ..client_identity import Holder, issue_identity, presented_identity
from ..context import CloudContext
from ..deps import Context, Session
from ..faults import FaultPoint
from ..management import find_connector, record_heartbeat, register_connector
from ..management.records import Actor
from ..store.identity import directory
from .revocation import download, upload

router = APIRouter(prefix="/connector", tags=["Certificate Connector API (mutual TLS)"])


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class EnrollRequest(_Body):
    certificate_request: str = Field(alias="certificateRequest", description="base64 PKCS#10")
    machine_name: str = Field(alias="machineName", min_length=1, max_length=200)
    display_name: str = Field(default="", alias="displayName", max_length=200)
    connector_version: str = Field(default="6.2301.1.0", alias="connectorVersion")


class RenewRequest(_Body):
    certificate_request: str = Field(alias="certificateRequest")


class Heartbeat(_Body):
    connector_version: str | None = Field(default=None, alias="connectorVersion")


class IdentityCertificate(_Body):
    connector_id: str = Field(alias="connectorId")
    tenant_id: str = Field(alias="tenantId")
    certificate: str = Field(description="base64 DER")
    issuer: str = Field(description="base64 DER of the Intune Connector CA")
    not_after: dt.datetime = Field(alias="notAfter")


async def _issue(
    session: Session, context: CloudContext, tenant_id: str, connector_id: str, csr: str
) -> IdentityCertificate:
    cert = await issue_identity(
        session,
        context,
        "connector",
        holder=Holder(connector_id, tenant_id),
        certificate_request=csr,
        validity=dt.timedelta(days=context.settings.connector_certificate_days),
    )
    der = serialization.Encoding.DER
    ca_cert = context.pki.cert(LabCert.INTUNE_CONNECTOR_CA)
    return IdentityCertificate.model_validate(
        {
            "connectorId": connector_id,
            "tenantId": tenant_id,
            "certificate": base64.b64encode(cert.public_bytes(der)).decode(),
            "issuer": base64.b64encode(ca_cert.public_bytes(der)).decode(),
            "notAfter": cert.not_valid_after_utc,
        }
    )


@router.post("/enroll", response_model=IdentityCertificate, response_model_by_alias=True)
async def enroll(
    body: EnrollRequest, caller: AdminCaller, session: Session, context: Context
) -> IdentityCertificate:
    """Sign-in of a new connector by an Intune administrator (who needs an Intune licence)."""
    if caller.kind != "user":
        raise HTTPException(403, "a connector is signed in by an administrator, not an app")
    user = await (await directory(session, caller.tenant_id)).get_user(caller.object_id)
    if user is None or not user.intune_licensed:
        raise HTTPException(403, "0x80004003: the administrator has no Intune licence")
    connector = await register_connector(
        session,
        caller.tenant_id,
        display_name=body.display_name or body.machine_name,
        machine_name=body.machine_name,
        connector_version=body.connector_version,
        now=context.clock.now(),
        actor=Actor(caller.object_id, caller.name),
    )
    return await _issue(session, context, caller.tenant_id, connector.id, body.certificate_request)


class ConnectorCaller(BaseModel):
    connector_id: str
    tenant_id: str


async def require_connector(
    request: Request, session: Session, context: Context
) -> ConnectorCaller:
    """The connector behind this connection's client certificate, or 401/403; a call is a
    contact (lastConnectionDateTime)."""
    holder = await presented_identity(request, session, context, "connector")
    if await find_connector(session, holder.id) is None:
        raise HTTPException(403, "this connector was deleted")
    await record_heartbeat(session, holder.id, context.clock.now())
    return ConnectorCaller(connector_id=holder.id, tenant_id=holder.tenant_id)


Connector = Annotated[ConnectorCaller, Depends(require_connector)]


@router.post("/renew", response_model=IdentityCertificate, response_model_by_alias=True)
async def renew(
    body: RenewRequest, caller: Connector, session: Session, context: Context
) -> IdentityCertificate:
    """A new identity certificate for a new key, asked for with the current one."""
    return await _issue(
        session, context, caller.tenant_id, caller.connector_id, body.certificate_request
    )


@router.post("/heartbeat", status_code=204)
async def heartbeat(body: Heartbeat, caller: Connector, session: Session, context: Context) -> None:
    if body.connector_version:
        await record_heartbeat(
            session,
            caller.connector_id,
            context.clock.now(),
            connector_version=body.connector_version,
        )


@router.post("/scep/validateRequest", response_model=ScepActionResult, response_model_by_alias=True)
async def validate_request(
    body: ValidateRequest, caller: Connector, session: Session, context: Context
) -> ScepActionResult:
    context.faults.trip(FaultPoint.VALIDATION)
    return await scep_actions.validate_request(
        session, context, caller.tenant_id, f"connector:{caller.connector_id}", body.request
    )


@router.post(
    "/scep/successNotification", response_model=ScepActionResult, response_model_by_alias=True
)
async def success_notification(
    body: SuccessNotification, caller: Connector, session: Session, context: Context
) -> ScepActionResult:
    context.faults.trip(FaultPoint.NOTIFICATION)
    return await scep_actions.success_notification(
        session, context, caller.tenant_id, body.notification
    )


@router.post(
    "/scep/failureNotification", response_model=ScepActionResult, response_model_by_alias=True
)
async def failure_notification(
    body: FailureNotification, caller: Connector, session: Session, context: Context
) -> ScepActionResult:
    context.faults.trip(FaultPoint.NOTIFICATION)
    return await scep_actions.failure_notification(
        session, context, caller.tenant_id, body.notification
    )


@router.post(
    "/revocation/download", response_model=RevocationRequests, response_model_by_alias=True
)
async def download_revocations(
    body: DownloadRevocationRequests, caller: Connector, session: Session, context: Context
) -> RevocationRequests:
    return await download(session, context, caller.tenant_id, body)


@router.post("/revocation/upload")
async def upload_revocations(
    body: UploadRevocationResults, caller: Connector, session: Session, context: Context
) -> dict[str, bool]:
    return await upload(session, context, caller.tenant_id, body)
