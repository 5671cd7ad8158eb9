"""The answer to a managed device's check-in: what applies to it now, and what it must remove.

    deviceId              the Intune device id (the CN of its MDM certificate)
    managementState       Graph's managementState as the device found it: `managed`; or
                          retirePending / wipePending (the device is told now, and the state moves
                          to retireIssued / wipeIssued), retireIssued / wipeIssued (told before).
                          A device in a leaving state gets no trusted certificates and no SCEP
                          profiles: it removes what it holds. A deleted device gets 403 instead.
    trustedCertificates   [{profileId, displayName, certificate (base64 DER), thumbprint (SHA-1,
                          upper hex), destinationStore (Windows; else null)}]
    scepProfiles          one per SCEP profile that targets the device, with a fresh challenge
                          and what the request must contain (`scep_profile_entry`); or, for a
                          profile the device cannot satisfy, {profileId, displayName, the
                          profile's settings, error}
    removedProfiles       ids of SCEP profiles (deleted ones too) of which the device may still
                          hold a certificate but which no longer target it: it deletes those
                          certificates and reports `deleted` for each

Checking in also moves lastSyncDateTime, queues revocation of certificates of profiles that no
longer reach the device, and records challengeIssued (or challengeIssueFailed) per profile.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared import trace

from .challenges import IssuedChallenge, issue_challenge
from .context import CloudContext
from .domain.errors import ProfileError
from .management import (
    DeviceConfiguration,
    ScepSettings,
    profiles_for_device,
    record_certificate_state,
    record_device_status,
    record_sync,
    removed_profiles,
    revoke_untargeted_certificates,
    set_management_state,
)
from .management.enums import CertificateIssuanceState, ManagementState, ProfileStatus
from .membership import device_groups

Json = dict[str, object]

# a retire or wipe reaches the device at its check-in: the state says the device has been told
ISSUED_AT_CHECKIN = {
    ManagementState.RETIRE_PENDING: ManagementState.RETIRE_ISSUED,
    ManagementState.WIPE_PENDING: ManagementState.WIPE_ISSUED,
}


async def check_in(
    session: AsyncSession, context: CloudContext, tenant_id: str, device_id: str
) -> Json:
    """The device's check-in (NotFound for a device unknown or deleted in the tenant)."""
    now = context.clock.now()
    device = await record_sync(session, tenant_id, device_id, now)
    groups = await device_groups(session, device)
    await revoke_untargeted_certificates(session, tenant_id, device.id, groups, now=now)
    profiles = await profiles_for_device(session, tenant_id, device.id, groups)
    trusted: list[Json] = []
    scep: list[Json] = []
    for profile in profiles:
        if profile.trusted_root is not None:
            trusted.append(trusted_entry(profile))
            continue
        try:
            issued = await issue_challenge(session, context, tenant_id, device.id, profile.id)
        except ProfileError as exc:
            await record_certificate_state(
                session,
                tenant_id,
                device_id=device.id,
                configuration_id=profile.id,
                issuance_state=CertificateIssuanceState.CHALLENGE_ISSUE_FAILED,
                now=now,
            )
            await record_device_status(
                session,
                tenant_id,
                device_id=device.id,
                configuration_id=profile.id,
                status=ProfileStatus.ERROR,
                now=now,
            )
            scep.append({**profile_facts(context, profile), "error": str(exc)})
            continue
        scep.append(scep_profile_entry(context, profile, issued))
    removed = await removed_profiles(session, tenant_id, device.id, [p.id for p in profiles])
    trace.annotate(
        device={"id": device.id, "name": device.device_name},
        challenges=[
            {"profile_id": e.get("profileId"), "profile_name": e.get("displayName")}
            for e in scep
            if "challenge" in e
        ],
    )
    if (told := ISSUED_AT_CHECKIN.get(device.management_state)) is not None:
        await set_management_state(session, tenant_id, device.id, told)
    return {
        "deviceId": device.id,
        "managementState": device.management_state.value,
        "trustedCertificates": trusted,
        "scepProfiles": scep,
        "removedProfiles": removed,
    }


def trusted_entry(profile: DeviceConfiguration) -> Json:
    root = profile.trusted_root
    assert root is not None
    store = root.destination_store
    return {
        "profileId": profile.id,
        "displayName": profile.display_name,
        "certificate": root.trusted_root_certificate,
        "thumbprint": root.thumbprint,
        "destinationStore": None if store is None else store.value,
    }


def profile_facts(context: CloudContext, profile: DeviceConfiguration) -> Json:
    """What a SCEP profile says about the certificate whatever the device (also sent when the
    profile fails on this device). `retryCount` and `retryDelaySeconds` are the cloud's settings
    (Intune's Android payload: RetryCount 3, RetryDelay 1 minute), for every platform."""
    settings: ScepSettings | None = profile.scep
    assert settings is not None
    scale = settings.certificate_validity_period_scale.value
    value = settings.certificate_validity_period_value
    ksp, store = settings.key_storage_provider, settings.certificate_store
    return {
        "profileId": profile.id,
        "displayName": profile.display_name,
        "platform": profile.platform.value,
        "certificateType": settings.certificate_type.value,
        "keyStorageProvider": None if ksp is None else ksp.value,
        "certificateStore": None if store is None else store.value,
        "rootCertificateProfileId": settings.root_certificate,
        "renewalThresholdPercentage": settings.renewal_threshold_percentage,
        "validityPeriod": f"{value} {scale}",
        "validityPeriodValue": value,
        "validityPeriodScale": scale,
        "retryCount": context.settings.device_retry_count,
        "retryDelaySeconds": context.settings.device_retry_delay_seconds,
    }


def scep_profile_entry(
    context: CloudContext, profile: DeviceConfiguration, issued: IssuedChallenge
) -> Json:
    """The profile's facts, then what the request must contain for this device and the sealed
    challenge (valid until `expiresAt`)."""
    return {
        **profile_facts(context, profile),
        "challenge": issued.challenge,
        "subjectName": issued.subject,
        **issued.request_json(),
    }
