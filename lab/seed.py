"""The tenants `scep-lab up` puts in the cloud, through the cloud's own service layers: what an
Intune administrator would have set up before the first device enrols (DESIGN.md, flow 1).

Contoso Lab (contoso-lab.onmicrosoft.com), the demo tenant, and Fabrikam Lab, another tenant of
the same cloud: their users, devices, groups and profiles are in `seed_plans`; each also gets
the app registration a third-party CA (or NDES's connector) uses to call the validation API.
Object ids are derived from the tenant id, so the seed reads like a real tenant's but is found
again; a second call on the same cloud creates nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_sim import management as mgmt
from cloud_sim.domain.identity import GroupMember, MemberKind, Tenant, User, UserAttributes
from cloud_sim.store.identity import create_tenant, directory, find_tenant
from shared.pki import LabCert, LabPki

from .seed_plans import DEMO, OTHER, SCEP_COMMON, TenantPlan

log = logging.getLogger(__name__)

DEMO_DOMAIN = DEMO.domain
DEMO_TENANT_NAME = DEMO.display_name
ADMIN_UPN = DEMO.admin_upn
OPERATOR_UPN = DEMO.operator_upn
APP_NAME = "Lab third-party CA"
APP_PERMISSIONS = ("scep_challenge_provider", "Application.Read.All")
_GRAPH = "#microsoft.graph."


@dataclass(frozen=True)
class DemoObject:
    id: str
    name: str


@dataclass(frozen=True)
class DemoSecrets:
    """Shown once, when the tenant is made: the caller keeps them (lab.json, mode 0600)."""

    admin_password: str = field(repr=False)
    operator_password: str = field(repr=False)
    app_secret: str = field(repr=False)


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: str
    display_name: str
    domain: str
    admin_upn: str
    operator_upn: str
    app_id: str
    app_name: str
    app_permissions: tuple[str, ...]
    users: tuple[DemoObject, ...]  # name: the UPN
    groups: tuple[DemoObject, ...]
    devices: tuple[DemoObject, ...]
    profiles: tuple[DemoObject, ...]
    secrets: DemoSecrets | None = field(default=None, repr=False, compare=False)
    """Only from the call that made the tenant; None when it was there already."""


async def seed_demo_tenant(
    sessions: async_sessionmaker[AsyncSession],
    *,
    pki: LabPki,
    scep_url: str,
    now: dt.datetime,
    scep_https_url: str | None = None,
) -> DemoTenant:
    """Make the demo tenant in one transaction, or find it (by its domain) and describe it.
    `scep_url` is NDES's, written into the SCEP profiles (Android's get `scep_https_url` when
    given: its devices refuse plain HTTP); the trusted profiles carry the lab PKI's root and
    issuing CA."""
    urls = {"android": scep_https_url or scep_url}
    return await seed_tenant(sessions, DEMO, pki=pki, scep_url=scep_url, now=now, urls=urls)


async def seed_other_tenant(
    sessions: async_sessionmaker[AsyncSession], *, pki: LabPki, scep_url: str, now: dt.datetime
) -> DemoTenant:
    """Fabrikam Lab, another tenant of the same cloud (see `seed_plans`), as `seed_demo_tenant`
    makes or finds Contoso."""
    return await seed_tenant(sessions, OTHER, pki=pki, scep_url=scep_url, now=now)


async def seed_tenant(
    sessions: async_sessionmaker[AsyncSession],
    plan: TenantPlan,
    *,
    pki: LabPki,
    scep_url: str,
    now: dt.datetime,
    urls: Mapping[str, str] | None = None,
) -> DemoTenant:
    """Make the tenant `plan` describes in one transaction, or find it (by its domain) and
    describe it. `urls`: another SCEP URL for a group's profiles."""
    async with sessions() as session, session.begin():
        found = await find_tenant(session, plan.domain)
        if found is not None:
            return await _describe(session, found, plan)
        made = await _create(session, plan, pki, scep_url, now, urls or {})
    log.info("seeded the tenant %s (%s)", made.tenant_id, plan.domain)
    return made


async def _create(
    session: AsyncSession,
    plan: TenantPlan,
    pki: LabPki,
    scep_url: str,
    now: dt.datetime,
    urls_by_group: Mapping[str, str],
) -> DemoTenant:
    tenant = await create_tenant(
        session, display_name=plan.display_name, default_domain=plan.domain
    )
    people = await directory(session, tenant.id)
    passwords = {"admin": _password(), "operator": _password()}
    users: dict[str, User] = {}
    for key, name, roles, rid in plan.people:
        users[key] = await people.create_user(
            user_principal_name=f"{key}@{plan.domain}",
            display_name=name,
            password=passwords.get(key),
            roles=roles,
            user_id=_id(tenant, "user", key),
            **_on_premises(plan, key, name, rid),
        )
    actor = mgmt.Actor(users["admin"].id, plan.admin_upn)
    devices = {key: await _device(session, tenant, key, users[user], body, actor, now)
               for key, user, body in plan.devices}  # fmt: skip
    members: dict[MemberKind, dict[str, str]] = {MemberKind.DEVICE: devices}
    members[MemberKind.USER] = {key: user.id for key, user in users.items()}
    for key, (name, description, group_members) in plan.groups.items():
        group = await people.create_group(
            name, description=description, group_id=_id(tenant, "group", key)
        )
        for kind, member in group_members:
            await people.add_member(group.id, GroupMember(kind, members[kind][member]))
    for group_key, label, trusted_type, scep_type, scep_name, settings in plan.profiles:
        target = [mgmt.AssignmentTarget(_id(tenant, "group", group_key))]
        trusted = [
            await _trusted(session, tenant, pki, cert, label, trusted_type, actor, now)
            for cert in (LabCert.ROOT_CA, LabCert.ISSUING_CA)
        ]
        body = {"@odata.type": _GRAPH + scep_type, "displayName": scep_name, **SCEP_COMMON}
        url = urls_by_group.get(group_key, scep_url)
        body |= {**settings, "scepServerUrls": [url], "rootCertificate": trusted[-1]}
        scep = await mgmt.create_configuration(session, tenant.id, body, actor=actor, now=now)
        for configuration_id in (*trusted, scep.id):
            await mgmt.assign_configuration(
                session, tenant.id, configuration_id, target, actor=actor, now=now
            )
    _, app_secret = await people.create_app_registration(
        APP_NAME, permissions=APP_PERMISSIONS, app_id=_id(tenant, "app", APP_NAME)
    )
    made = DemoSecrets(passwords["admin"], passwords["operator"], app_secret)
    return replace(await _describe(session, tenant, plan), secrets=made)


async def _describe(session: AsyncSession, tenant: Tenant, plan: TenantPlan) -> DemoTenant:
    people = await directory(session, tenant.id)
    devices = await mgmt.list_devices(session, tenant.id)
    profiles = await mgmt.list_configurations(session, tenant.id)
    app = await people.get_app_registration(_id(tenant, "app", APP_NAME))
    return DemoTenant(
        tenant_id=tenant.id,
        display_name=tenant.display_name,
        domain=tenant.default_domain,
        admin_upn=plan.admin_upn,
        operator_upn=plan.operator_upn,
        app_id=_id(tenant, "app", APP_NAME),
        app_name=APP_NAME,
        app_permissions=tuple(sorted(app.permissions)) if app else (),
        users=_objects((u.id, u.user_principal_name) for u in await people.list_users()),
        groups=_objects((g.id, g.display_name) for g in await people.list_groups()),
        devices=_objects((d.id, d.device_name) for d in devices),
        profiles=_objects((p.id, p.display_name) for p in profiles),
    )


async def _device(
    session: AsyncSession,
    tenant: Tenant,
    key: str,
    user: User,
    body: Mapping[str, str],
    actor: mgmt.Actor,
    now: dt.datetime,
) -> str:
    new = mgmt.NewDevice.model_validate(
        {
            **body,
            "id": _id(tenant, "device", key),
            "azureADDeviceId": _id(tenant, "entra-device", key),
            "userId": user.id,
            "userPrincipalName": user.user_principal_name,
            "userDisplayName": user.display_name,
            "emailAddress": user.mail,
        }
    )
    return (await mgmt.create_device(session, tenant.id, new, actor=actor, now=now)).id


async def _trusted(
    session: AsyncSession,
    tenant: Tenant,
    pki: LabPki,
    cert: LabCert,
    label: str,
    odata_type: str,
    actor: mgmt.Actor,
    now: dt.datetime,
) -> str:
    root = cert is LabCert.ROOT_CA
    body: dict[str, object] = {
        "@odata.type": f"{_GRAPH}{odata_type}TrustedRootCertificate",
        "displayName": f"Lab {'Root' if root else 'Issuing'} CA ({label})",
        "description": pki.cert(cert).subject.rfc4514_string(),
        "trustedRootCertificate": base64.b64encode(
            pki.cert(cert).public_bytes(Encoding.DER)
        ).decode(),
        "certFileName": f"lab-{cert.value}.cer",
    }
    if odata_type == "windows81":
        store = "computerCertStoreRoot" if root else "computerCertStoreIntermediate"
        body["destinationStore"] = store
    made = await mgmt.create_configuration(session, tenant.id, body, actor=actor, now=now)
    return made.id


def _on_premises(plan: TenantPlan, key: str, name: str, rid: int | None) -> UserAttributes:
    if rid is None:  # an administrator: cloud-only, licensed for Intune (a connector's sign-in
        return UserAttributes(intune_licensed=True)  # needs an administrator with a licence)
    dc = ",".join(f"DC={part}" for part in plan.ad_suffix.split("."))
    return UserAttributes(
        mail=f"{key}@{plan.domain}",
        on_premises_sam_account_name=key,
        on_premises_security_identifier=f"{plan.ad_domain_sid}-{rid}",
        on_premises_distinguished_name=f"CN={name},OU=Users,OU=Lab,{dc}",
    )


def _id(tenant: Tenant, kind: str, key: str) -> str:
    return str(uuid.uuid5(uuid.UUID(tenant.id), f"{kind}:{key}"))


def _password() -> str:
    return f"Lab-{secrets.token_urlsafe(15)}"


def _objects(pairs: Iterable[tuple[str, str]]) -> tuple[DemoObject, ...]:
    return tuple(DemoObject(object_id, name) for object_id, name in pairs)
