"""Helpers for the admin API's tests: callers (the auth dependencies overridden), request bodies
for devices and profiles, group membership faked per test, and seeding through the service
layer on the app's own database."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_sim.auth import Principal, Role, require_admin, require_reader
from cloud_sim.management import CertificateState, ManagedDevice, record_certificate_state
from cloud_sim.management.enums import CertificateIssuanceState
from cloud_sim.routes.admin import get_group_lookup
from shared.pki import LabCert, LabPki

TENANT = "6f1c1f1e-0000-4000-8000-000000000001"
OTHER_TENANT = "6f1c1f1e-0000-4000-8000-000000000002"
BASE = "/beta/deviceManagement"
GRAPH = "#microsoft.graph."
ISSUER = "CN=Lab Issuing CA,O=intune-scep-lab"
CA_CONFIG = "ca.lab.test\\Lab Issuing CA"

ADMIN = Principal(
    tenant_id=TENANT,
    object_id="a0000000-0000-4000-8000-00000000000a",
    kind="user",
    name="admin@contoso.test",
    roles=frozenset({Role.INTUNE_ADMINISTRATOR}),
)
READER = Principal(
    tenant_id=TENANT,
    object_id="a0000000-0000-4000-8000-00000000000b",
    kind="user",
    name="reader@contoso.test",
    roles=frozenset({Role.READ_ONLY_OPERATOR}),
)
OUTSIDER = Principal(
    tenant_id=OTHER_TENANT,
    object_id="a0000000-0000-4000-8000-00000000000c",
    kind="user",
    name="admin@fabrikam.test",
    roles=frozenset({Role.GLOBAL_ADMINISTRATOR}),
)


def sign_in(app: FastAPI, principal: Principal, *, may_write: bool = True) -> None:
    """Make `principal` the caller of every following request (403 on writes unless
    `may_write`, as the real dependency answers a read-only role)."""

    def reader() -> Principal:
        return principal

    def admin() -> Principal:
        if not may_write:
            raise HTTPException(403, "the caller's role may not change anything")
        return principal

    app.dependency_overrides[require_reader] = reader
    app.dependency_overrides[require_admin] = admin


def set_groups(app: FastAPI, groups: dict[str, set[str]]) -> None:
    """Fake the identity area's membership: device id -> the ids of its (and its user's)
    groups. The dict is read at each call, so a test may change it later."""

    async def lookup(device: ManagedDevice) -> frozenset[str]:
        return frozenset(groups.get(device.id, set()))

    app.dependency_overrides[get_group_lookup] = lambda: lookup


def b64_der(lab_pki: LabPki, label: str = LabCert.ROOT_CA) -> str:
    return base64.b64encode(lab_pki.cert(label).public_bytes(Encoding.DER)).decode()


def device_body(
    name: str = "LAPTOP-7", platform: str = "windows", **extra: object
) -> dict[str, object]:
    return {
        "deviceName": name,
        "platform": platform,
        "serialNumber": f"SN-{name}",
        "azureADDeviceId": "0c5e8b7a-1111-4222-8333-444455556666",
        "userId": "b0000000-0000-4000-8000-000000000001",
        "userPrincipalName": "alice@contoso.test",
        **extra,
    }


def trusted_body(
    lab_pki: LabPki, platform: str = "windows81", **extra: object
) -> dict[str, object]:
    return {
        "@odata.type": f"{GRAPH}{platform}TrustedRootCertificate",
        "displayName": "Lab Root CA",
        "trustedRootCertificate": b64_der(lab_pki),
        "certFileName": "lab-root.cer",
        **extra,
    }


SCEP_TYPES = {
    "windows": "windows81SCEPCertificateProfile",
    "ios": "iosScepCertificateProfile",
    "macOS": "macOSScepCertificateProfile",
    "androidWorkProfile": "androidWorkProfileScepCertificateProfile",
}


def scep_body(root_id: str, platform: str = "windows", **extra: object) -> dict[str, object]:
    return {
        "@odata.type": GRAPH + SCEP_TYPES[platform],
        "displayName": "Wi-Fi device certificate",
        "certificateType": "device",
        "subjectNameFormat": "custom",
        "subjectNameFormatString": "CN={{DeviceName}}",
        "subjectAlternativeNameType": "none",
        "customSubjectAlternativeNames": [
            {"sanType": "domainNameService", "name": "{{DeviceName}}.contoso.test"}
        ],
        "extendedKeyUsages": [
            {"name": "Client Authentication", "objectIdentifier": "1.3.6.1.5.5.7.3.2"}
        ],
        "keyUsage": "keyEncipherment,digitalSignature",
        "keySize": "size2048",
        "hashAlgorithm": "sha2",
        "certificateValidityPeriodValue": 1,
        "certificateValidityPeriodScale": "years",
        "renewalThresholdPercentage": 20,
        "scepServerUrls": ["http://ndes.lab.test:8080/certsrv/mscep/mscep.dll"],
        "rootCertificate": root_id,
        **extra,
    }


async def create(
    client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> dict[str, object]:
    response = await client.post(f"{BASE}/{path}", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def new_device(client: httpx.AsyncClient, name: str = "LAPTOP-7", **extra: object) -> str:
    return str((await create(client, "managedDevices", device_body(name, **extra)))["id"])


async def new_scep_profile(
    client: httpx.AsyncClient, lab_pki: LabPki, platform: str = "windows", **extra: object
) -> tuple[str, str]:
    """A trusted root profile and a SCEP profile naming it: (root id, SCEP id)."""
    trusted = {"windows": "windows81", "macOS": "macOS"}.get(platform, platform)
    root = await create(client, "deviceConfigurations", trusted_body(lab_pki, trusted))
    scep = await create(
        client, "deviceConfigurations", scep_body(str(root["id"]), platform, **extra)
    )
    return str(root["id"]), str(scep["id"])


async def assign(
    client: httpx.AsyncClient, profile_id: str, include: list[str], exclude: list[str] | None = None
) -> httpx.Response:
    targets = [("groupAssignmentTarget", g) for g in include]
    targets += [("exclusionGroupAssignmentTarget", g) for g in exclude or []]
    body = {
        "assignments": [
            {"target": {"@odata.type": GRAPH + kind, "groupId": group}} for kind, group in targets
        ]
    }
    return await client.post(f"{BASE}/deviceConfigurations/{profile_id}/assign", json=body)


@asynccontextmanager
async def db(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session on the app's database, committed at the end (the service layer's caller)."""
    async with app.state.cloud.sessions() as session, session.begin():
        yield session


async def seed_certificate(
    app: FastAPI,
    device_id: str,
    profile_id: str,
    serial: str,
    *,
    now: dt.datetime,
    tenant_id: str = TENANT,
    ca_configuration: str = CA_CONFIG,
) -> CertificateState:
    """What the success notification will record: an issued certificate."""
    async with db(app) as session:
        state = await record_certificate_state(
            session,
            tenant_id,
            device_id=device_id,
            configuration_id=profile_id,
            issuance_state=CertificateIssuanceState.ISSUED,
            now=now,
            serial_number=serial,
            thumbprint="ab" * 20,
            issuer=ISSUER,
            ca_configuration=ca_configuration,
            expiration=now + dt.timedelta(days=365),
            issued_at=now,
            key_length=2048,
            enhanced_key_usage="1.3.6.1.5.5.7.3.2",
        )
    assert state is not None
    return state


async def seed_windows_device(
    app: FastAPI,
    tenant_id: str,
    user_id: str,
    user_principal_name: str,
    lab_pki: LabPki,
    *,
    device_name: str = "LAPTOP-7",
    profiles: tuple[dict[str, object], ...] = ({},),
) -> tuple[str, list[str]]:
    """A Windows device of the user, the issuing CA as a trusted profile, and one SCEP profile per
    entry of `profiles` (overrides of `scep_body`), all assigned to a group holding the device,
    through the service layer: (device id, SCEP profile ids)."""
    from cloud_sim.domain.identity import GroupMember, MemberKind
    from cloud_sim.management import assign_configuration, create_configuration, create_device
    from cloud_sim.management.devices import NewDevice
    from cloud_sim.management.records import SYSTEM_ACTOR, AssignmentTarget
    from cloud_sim.store.identity import directory

    now = app.state.cloud.clock.now()
    issuing = base64.b64encode(lab_pki.cert(LabCert.ISSUING_CA).public_bytes(Encoding.DER))
    async with db(app) as session:
        new = NewDevice.model_validate(
            {
                "deviceName": device_name,
                "platform": "windows",
                "serialNumber": f"SN-{device_name}",
                "userId": user_id,
                "userPrincipalName": user_principal_name,
            }
        )
        device = await create_device(session, tenant_id, new, actor=SYSTEM_ACTOR, now=now)
        root = await create_configuration(
            session,
            tenant_id,
            trusted_body(lab_pki, "windows81", trustedRootCertificate=issuing.decode()),
            actor=SYSTEM_ACTOR,
            now=now,
        )
        scep = [
            await create_configuration(
                session, tenant_id, scep_body(root.id, **override), actor=SYSTEM_ACTOR, now=now
            )
            for override in profiles
        ]
        people = await directory(session, tenant_id)
        group = await people.create_group("Lab Windows devices")
        await people.add_member(group.id, GroupMember(MemberKind.DEVICE, device.id))
        for configuration in (root, *scep):
            await assign_configuration(
                session,
                tenant_id,
                configuration.id,
                [AssignmentTarget(group.id)],
                actor=SYSTEM_ACTOR,
                now=now,
            )
    return device.id, [profile.id for profile in scep]
