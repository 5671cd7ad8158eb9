"""The managed-device side of the cloud. MDM enrolment (`/devices/enroll`: the device's primary
user, or an administrator for a device the lab created, with a CSR) gives the device `CN=<Intune
device id>` from the Microsoft Intune MDM Device CA; check-in and state reports then come over
mutual TLS with it. Check-in answers what applies to the device: trusted certificates, and each
SCEP profile with what its request must contain and a fresh challenge; its management state
(retire and wipe reach the device so); and the profiles whose certificates it must delete
(`cloud_sim.checkin` describes the answer)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from shared import trace
from shared.pki import LabCert

from ..checkin import check_in
from ..client_identity import Holder, issue_identity, presented_identity
from ..deps import Context, Session
from ..domain.identity import Resource
from ..identity_auth import WRITE_ROLES, verify_token
from ..management import (
    ManagementError,
    NotFound,
    get_device,
    record_certificate_removal,
    record_certificate_state,
    record_device_status,
)
from ..management.enums import REMOVAL_STATES, CertificateIssuanceState, ProfileStatus

router = APIRouter(prefix="/devices", tags=["Managed devices (MDM)"])


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class EnrollDevice(_Body):
    device_id: str = Field(alias="deviceId")
    certificate_request: str = Field(alias="certificateRequest", description="base64 PKCS#10")


class StateReport(_Body):
    profile_id: str = Field(alias="profileId")
    state: CertificateIssuanceState
    h_result: int | None = Field(default=None, alias="hResult")
    serial_number: str | None = Field(default=None, alias="serialNumber")
    thumbprint: str | None = None
    expiration: dt.datetime | None = None
    key_length: int | None = Field(default=None, alias="keyLength")


class DeviceCaller(BaseModel):
    device_id: str
    tenant_id: str


@router.post("/enroll")
async def enroll(
    body: EnrollDevice, request: Request, session: Session, context: Context
) -> dict[str, str]:
    """MDM enrolment: the device's primary user, or an administrator, vouches for the CSR."""
    principal = await verify_token(request, {Resource.INTUNE, Resource.GRAPH}, session)
    try:
        device = await get_device(session, principal.tenant_id, body.device_id)
    except NotFound as exc:
        raise HTTPException(404, f"no managed device {body.device_id}") from exc
    if principal.object_id != device.user_id and not principal.roles & WRITE_ROLES:
        raise HTTPException(403, "only the device's primary user or an administrator enrols it")
    cert = await issue_identity(
        session,
        context,
        "device",
        holder=Holder(device.id, device.tenant_id),
        certificate_request=body.certificate_request,
        validity=dt.timedelta(days=365),
    )
    der = serialization.Encoding.DER
    return {
        "deviceId": device.id,
        "certificate": base64.b64encode(cert.public_bytes(der)).decode(),
        "issuer": base64.b64encode(
            context.pki.cert(LabCert.INTUNE_MDM_DEVICE_CA).public_bytes(der)
        ).decode(),
    }


async def require_device(request: Request, session: Session, context: Context) -> DeviceCaller:
    holder = await presented_identity(request, session, context, "device")
    try:
        await get_device(session, holder.tenant_id, holder.id)
    except NotFound as exc:
        raise HTTPException(403, "this device was deleted") from exc
    return DeviceCaller(device_id=holder.id, tenant_id=holder.tenant_id)


Device = Annotated[DeviceCaller, Depends(require_device)]


@router.post("/checkin")
async def checkin(caller: Device, session: Session, context: Context) -> dict[str, object]:
    """What applies to the device now and what it must remove (`cloud_sim.checkin`)."""
    try:
        return await check_in(session, context, caller.tenant_id, caller.device_id)
    except NotFound as exc:
        if exc.kind != "managedDevice":
            raise
        raise HTTPException(403, "this device was deleted") from exc  # since it connected


@router.post("/status", status_code=204)
async def report_state(
    body: StateReport, caller: Device, session: Session, context: Context
) -> None:
    """A state change of one SCEP profile on the device (installed, failed with an HRESULT...).
    `deleted` / `deleteFailed` name the certificate by `serialNumber`, or without it every
    certificate of the profile the device held (the profile may have been deleted since: see
    `removedProfiles` at check-in). 404 for a profile unknown in the tenant, 400 for one that
    is not a SCEP profile."""
    now = context.clock.now()
    trace.annotate(
        device_id=caller.device_id,
        profile_id=body.profile_id,
        state=str(body.state),
        serial=body.serial_number,
        hresult=None if body.h_result is None else body.h_result & 0xFFFFFFFF,
    )
    try:
        if body.state in REMOVAL_STATES:
            await record_certificate_removal(
                session,
                caller.tenant_id,
                device_id=caller.device_id,
                configuration_id=body.profile_id,
                issuance_state=body.state,
                now=now,
                serial_number=body.serial_number,
                error_code=body.h_result,
            )
            return
        await record_certificate_state(
            session,
            caller.tenant_id,
            device_id=caller.device_id,
            configuration_id=body.profile_id,
            issuance_state=body.state,
            now=now,
            serial_number=body.serial_number,
            thumbprint=body.thumbprint,
            expiration=body.expiration,
            key_length=body.key_length,
            error_code=body.h_result,
        )
    except ManagementError as exc:
        raise HTTPException(exc.status, str(exc)) from exc
    if body.state in (
        CertificateIssuanceState.INSTALLED,
        CertificateIssuanceState.INSTALL_FAILED,
        CertificateIssuanceState.REQUEST_CREATION_FAILED,
    ):
        status = (
            ProfileStatus.SUCCEEDED
            if body.state is CertificateIssuanceState.INSTALLED
            else ProfileStatus.ERROR
        )
        await record_device_status(
            session,
            caller.tenant_id,
            device_id=caller.device_id,
            configuration_id=body.profile_id,
            status=status,
            now=now,
        )
