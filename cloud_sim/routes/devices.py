"""The managed-device side of the cloud. MDM enrolment (`/devices/enroll`: the device's primary
user, or an administrator for a device the lab created, with a CSR) gives the device `CN=<Intune
device id>` from the Microsoft Intune MDM Device CA; check-in and state reports then come over
mutual TLS with it. Check-in answers what applies to the device: trusted certificates, and each
SCEP profile with what its request must contain and a fresh challenge."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.pki import LabCert

from ..challenges import issue_challenge
from ..client_identity import Holder, issue_identity, presented_identity
from ..deps import Context, Session
from ..domain.errors import ProfileError
from ..domain.identity import Resource
from ..identity_auth import WRITE_ROLES, verify_token
from ..management import (
    NotFound,
    get_device,
    profiles_for_device,
    record_certificate_state,
    record_device_status,
    record_sync,
    revoke_untargeted_certificates,
)
from ..management.enums import CertificateIssuanceState, ProfileStatus
from ..store.identity import group_ids_for

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
    now = context.clock.now()
    device = await record_sync(session, caller.tenant_id, caller.device_id, now)
    groups = await group_ids_for(
        session, caller.tenant_id, user_id=device.user_id, device_id=device.id
    )
    await revoke_untargeted_certificates(session, caller.tenant_id, device.id, groups, now=now)
    trusted: list[dict[str, object]] = []
    scep: list[dict[str, object]] = []
    for profile in await profiles_for_device(session, caller.tenant_id, device.id, groups):
        if profile.trusted_root is not None:
            trusted.append(
                {
                    "profileId": profile.id,
                    "displayName": profile.display_name,
                    "certificate": profile.trusted_root.trusted_root_certificate,
                    "thumbprint": profile.trusted_root.thumbprint,
                }
            )
            continue
        try:
            issued = await issue_challenge(
                session, context, caller.tenant_id, device.id, profile.id
            )
        except ProfileError as exc:
            await record_certificate_state(
                session,
                caller.tenant_id,
                device_id=device.id,
                configuration_id=profile.id,
                issuance_state=CertificateIssuanceState.CHALLENGE_ISSUE_FAILED,
                now=now,
            )
            await record_device_status(
                session,
                caller.tenant_id,
                device_id=device.id,
                configuration_id=profile.id,
                status=ProfileStatus.ERROR,
                now=now,
            )
            scep.append(
                {"profileId": profile.id, "displayName": profile.display_name, "error": str(exc)}
            )
            continue
        settings = profile.scep
        assert settings is not None
        scep.append(
            {
                "profileId": profile.id,
                "displayName": profile.display_name,
                "challenge": issued.challenge,
                "subjectName": issued.subject,
                "subjectAlternativeNames": [{"type": t, "value": v} for t, v in issued.sans],
                "extendedKeyUsages": list(issued.ekus),
                "keyUsage": sorted(issued.key_usage),
                "keySize": issued.key_size,
                "hashAlgorithm": issued.hash_algorithm,
                "scepServerUrls": list(issued.scep_urls),
                "caThumbprint": issued.ca_thumbprint,
                "renewalThresholdPercentage": settings.renewal_threshold_percentage,
                "validityPeriod": f"{settings.certificate_validity_period_value} "
                f"{settings.certificate_validity_period_scale.value}",
                "expiresAt": issued.expires_at.isoformat(),
            }
        )
    return {"deviceId": device.id, "trustedCertificates": trusted, "scepProfiles": scep}


@router.post("/status", status_code=204)
async def report_state(
    body: StateReport, caller: Device, session: Session, context: Context
) -> None:
    """A state change of one SCEP profile on the device (installed, failed with an HRESULT...)."""
    now = context.clock.now()
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
