"""The demo tenant of `scep-lab up`, seeded on a fresh cloud database through the cloud's own
service layers: what it holds, that each device is reached by its platform's profiles only, that
the returned credentials sign in, and that seeding again creates nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_sim import management as mgmt
from cloud_sim.domain import identity as domain
from cloud_sim.store import create_tables
from cloud_sim.store.identity import directory, group_ids_for
from lab.seed import (
    ADMIN_UPN,
    DEMO_DOMAIN,
    OPERATOR_UPN,
    DemoTenant,
    seed_demo_tenant,
    seed_other_tenant,
)
from shared.db import create_engine
from shared.pki import LabCert, LabPki, build_lab_pki, default_lab_spec

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
SCEP_URL = "http://127.0.0.1:8080/certsrv/mscep/mscep.dll"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    spec = default_lab_spec(b"lab-seed-tests", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    return build_lab_pki(spec, tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain, "_SCRYPT", (2**8, 8, 1))


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}")
    await create_tables(engine)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def _seed(sessions: Sessions, lab_pki: LabPki) -> DemoTenant:
    return await seed_demo_tenant(sessions, pki=lab_pki, scep_url=SCEP_URL, now=NOW)


async def test_the_seed_holds_the_demo_objects(sessions: Sessions, lab_pki: LabPki) -> None:
    tenant = await _seed(sessions, lab_pki)
    assert tenant.domain == DEMO_DOMAIN
    assert {u.name for u in tenant.users} == {
        ADMIN_UPN,
        OPERATOR_UPN,
        f"alice@{DEMO_DOMAIN}",
        f"bob@{DEMO_DOMAIN}",
    }
    assert {g.name for g in tenant.groups} == {
        "Lab Windows devices",
        "Lab iOS users",
        "Lab Android users",
    }
    assert {d.name for d in tenant.devices} == {
        "LAB-LAPTOP-01",
        "LAB-IPHONE-01",
        "LAB-MAC-01",
        "LAB-PIXEL-01",
    }
    assert len(tenant.profiles) == 12  # per platform: root, issuing CA, SCEP
    async with sessions() as session:
        people = await directory(session, tenant.tenant_id)
        alice = await people.get_user(next(u.id for u in tenant.users if "alice" in u.name))
        assert alice is not None
        assert alice.on_premises_sam_account_name == "alice"
        assert alice.on_premises_security_identifier is not None
        assert domain.check_sid(alice.on_premises_security_identifier)
        for device in await mgmt.list_devices(session, tenant.tenant_id):
            assert device.user_principal_name is not None
            assert device.azure_ad_device_id is not None


async def test_each_device_gets_its_platforms_chain_and_scep_profile(
    sessions: Sessions, lab_pki: LabPki
) -> None:
    tenant = await _seed(sessions, lab_pki)
    issuing = lab_pki.cert(LabCert.ISSUING_CA)
    root = lab_pki.cert(LabCert.ROOT_CA)
    async with sessions() as session:
        for device in await mgmt.list_devices(session, tenant.tenant_id):
            groups = await group_ids_for(
                session, tenant.tenant_id, user_id=device.user_id, device_id=device.id
            )
            profiles = await mgmt.profiles_for_device(session, tenant.tenant_id, device.id, groups)
            kinds = [p.kind for p in profiles]
            assert kinds == ["trustedRootCertificate"] * 2 + ["scepCertificateProfile"]
            assert {p.platform for p in profiles} == {device.platform}
            trusted = {p.id: p.trusted_root.certificate for p in profiles if p.trusted_root}
            assert sorted(trusted.values(), key=str) == sorted([root, issuing], key=str)
            scep = profiles[2].scep
            assert scep is not None
            assert scep.scep_server_urls == (SCEP_URL,)
            assert trusted[scep.root_certificate] == issuing  # the issuing CA's profile
            assert scep.key_size.bits == 2048


async def test_the_returned_credentials_sign_in(sessions: Sessions, lab_pki: LabPki) -> None:
    tenant = await _seed(sessions, lab_pki)
    secrets = tenant.secrets
    assert secrets is not None
    assert secrets.admin_password not in repr(tenant) + repr(secrets)
    async with sessions() as session:
        people = await directory(session, tenant.tenant_id)
        admin = await people.authenticate_user(ADMIN_UPN, secrets.admin_password)
        assert admin.roles == {domain.DirectoryRole.INTUNE_ADMINISTRATOR}
        operator = await people.authenticate_user(OPERATOR_UPN, secrets.operator_password)
        assert operator.roles == {domain.DirectoryRole.READ_ONLY_OPERATOR}
        app = await people.authenticate_app(tenant.app_id, secrets.app_secret)
        assert app.permissions == {"scep_challenge_provider", "Application.Read.All"}
        with pytest.raises(domain.InvalidCredential):
            await people.authenticate_user(f"alice@{DEMO_DOMAIN}", secrets.admin_password)


async def test_seeding_again_changes_nothing(sessions: Sessions, lab_pki: LabPki) -> None:
    first = await _seed(sessions, lab_pki)
    second = await seed_demo_tenant(
        sessions, pki=lab_pki, scep_url="http://elsewhere.test/mscep.dll", now=NOW
    )
    assert first.secrets is not None
    assert second.secrets is None
    assert second == first  # secrets aside: same ids, same objects
    async with sessions() as session:
        events = await mgmt.list_audit_events(session, first.tenant_id)
        scep = [p for p in await mgmt.list_configurations(session, first.tenant_id) if p.scep]
    assert all(p.scep is not None and p.scep.scep_server_urls == (SCEP_URL,) for p in scep)
    assert len(events) == 4 + 12 + 12  # devices created, profiles created, profiles assigned


async def test_the_other_tenant_stands_beside_the_demo_one(
    sessions: Sessions, lab_pki: LabPki
) -> None:
    demo = await _seed(sessions, lab_pki)
    other = await seed_other_tenant(sessions, pki=lab_pki, scep_url=SCEP_URL, now=NOW)
    assert other.tenant_id != demo.tenant_id and other.domain == "fabrikam-lab.onmicrosoft.com"
    assert [d.name for d in other.devices] == ["FAB-LAPTOP-01"]
    assert {p.name for p in other.profiles} == {
        "Lab Root CA (Windows)",
        "Lab Issuing CA (Windows)",
        "Fabrikam device certificate (Windows)",
    }
    assert other.secrets is not None
    async with sessions() as session:
        people = await directory(session, other.tenant_id)
        admin = await people.authenticate_user(other.admin_upn, other.secrets.admin_password)
        assert admin.roles == {domain.DirectoryRole.INTUNE_ADMINISTRATOR}
        [device] = await mgmt.list_devices(session, other.tenant_id)
        groups = await group_ids_for(
            session, other.tenant_id, user_id=device.user_id, device_id=device.id
        )
        profiles = await mgmt.profiles_for_device(session, other.tenant_id, device.id, groups)
        assert [p.kind for p in profiles][-1] == "scepCertificateProfile"
        assert {p.id for p in profiles} <= {p.id for p in other.profiles}
        with pytest.raises(domain.NotFound):  # Contoso's administrator is not Fabrikam's
            await people.authenticate_user(ADMIN_UPN, other.secrets.admin_password)
    again = await seed_other_tenant(sessions, pki=lab_pki, scep_url=SCEP_URL, now=NOW)
    assert again.secrets is None and again == other
