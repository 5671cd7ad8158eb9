"""The identity service layer on its tables: on SQLite, and on PostgreSQL when TEST_POSTGRES_URL
names one (skipped otherwise)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_sim.domain import identity as domain
from cloud_sim.domain.identity import (
    AlreadyExists,
    DirectoryRole,
    GroupMember,
    InvalidCredential,
    InvalidValue,
    MemberKind,
    NotFound,
)
from cloud_sim.store.base import Base
from cloud_sim.store.identity import (
    AppRow,
    Directory,
    UserRow,
    create_tenant,
    directory,
    find_tenant,
    group_ids_for,
)
from shared.db import create_engine

from .identity_support import cheap_hashes_fixture  # noqa: F401  (fixture)

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
SID = "S-1-5-21-1004336348-1177238915-682003330-1106"


@pytest.fixture(params=["sqlite", "postgresql"])
async def session(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncSession]:
    """A session in a transaction on a fresh database, rolled back at the end."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    elif POSTGRES_URL:
        url = POSTGRES_URL
    else:
        pytest.skip("set TEST_POSTGRES_URL (postgresql+asyncpg://...) to run on PostgreSQL")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


@pytest.fixture
async def contoso(session: AsyncSession) -> Directory:
    tenant = await create_tenant(
        session, display_name="Contoso", default_domain="Contoso.onmicrosoft.com"
    )
    return await directory(session, tenant.id)


async def test_tenants_are_found_by_id_or_domain_in_any_case(session: AsyncSession) -> None:
    tenant = await create_tenant(
        session,
        display_name="Contoso",
        default_domain="Contoso.OnMicrosoft.com",
        tenant_id="4A1F3C2E-0B7D-4E59-9C61-2D8E5F7A9B10",
    )

    assert tenant.id == "4a1f3c2e-0b7d-4e59-9c61-2d8e5f7a9b10"
    assert tenant.default_domain == "contoso.onmicrosoft.com"
    assert await find_tenant(session, "CONTOSO.onmicrosoft.com") == tenant
    assert await find_tenant(session, tenant.id.upper()) == tenant
    assert await find_tenant(session, "fabrikam.com") is None
    assert (await directory(session, "contoso.onmicrosoft.com")).tenant == tenant
    with pytest.raises(NotFound):
        await directory(session, "00000000-0000-0000-0000-000000000000")


async def test_a_taken_domain_is_refused_and_the_session_goes_on(session: AsyncSession) -> None:
    await create_tenant(session, display_name="A", default_domain="contoso.com")

    with pytest.raises(AlreadyExists):
        await create_tenant(session, display_name="B", default_domain="CONTOSO.com")
    with pytest.raises(InvalidValue):
        await create_tenant(session, display_name="C", default_domain="not a domain")
    with pytest.raises(InvalidValue):
        await create_tenant(session, display_name="D", default_domain="d.com", tenant_id="x")

    assert await find_tenant(session, "d.com") is None
    assert (await find_tenant(session, "contoso.com")) is not None


async def test_users_keep_their_on_premises_identity(contoso: Directory) -> None:
    created = await contoso.create_user(
        user_principal_name="Alex.Wilber@contoso.com",
        display_name="Alex Wilber",
        password="Pa55w.rd",
        roles=["Intune Administrator"],
        mail="alex@contoso.com",
        on_premises_sam_account_name="awilber",
        on_premises_security_identifier=SID,
        on_premises_distinguished_name="CN=Alex Wilber,OU=Staff,DC=contoso,DC=com",
        intune_licensed=False,
    )

    assert created.roles == {DirectoryRole.INTUNE_ADMINISTRATOR}
    assert created.on_premises_security_identifier == SID
    assert created.intune_licensed is False
    assert created.account_enabled is True
    assert await contoso.get_user(created.id) == created
    assert await contoso.get_user(created.id.upper()) == created
    assert await contoso.list_users() == [created]


async def test_user_values_are_checked(contoso: Directory) -> None:
    await contoso.create_user(user_principal_name="a@contoso.com", display_name="A")

    with pytest.raises(AlreadyExists):
        await contoso.create_user(user_principal_name="A@Contoso.com", display_name="again")
    with pytest.raises(InvalidValue):
        await contoso.create_user(user_principal_name="no-at-sign", display_name="B")
    with pytest.raises(InvalidValue):
        await contoso.create_user(
            user_principal_name="b@contoso.com", display_name="B", roles=["God"]
        )
    with pytest.raises(InvalidValue):
        await contoso.create_user(
            user_principal_name="c@contoso.com",
            display_name="C",
            on_premises_security_identifier="S-1-5-32-544",  # a builtin group, not an account
        )
    assert len(await contoso.list_users()) == 1


async def test_passwords_are_stored_hashed_and_checked(
    contoso: Directory, session: AsyncSession
) -> None:
    user = await contoso.create_user(
        user_principal_name="a@contoso.com", display_name="A", password="correct horse"
    )
    await contoso.create_user(user_principal_name="nopw@contoso.com", display_name="No password")

    assert await contoso.authenticate_user("A@contoso.com", "correct horse") == user
    with pytest.raises(InvalidCredential):
        await contoso.authenticate_user("a@contoso.com", "Correct horse")
    with pytest.raises(InvalidCredential):
        await contoso.authenticate_user("nopw@contoso.com", "")
    with pytest.raises(NotFound):
        await contoso.authenticate_user("b@contoso.com", "correct horse")
    stored = await session.scalar(select(UserRow.password_hash).where(UserRow.id == user.id))
    assert stored is not None
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored


def test_the_default_hash_is_scrypt_at_n_16384(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the cheap parameters of the other tests

    encoded = domain.hash_secret("s3cret")

    assert encoded.split("$")[:4] == ["scrypt", "16384", "8", "1"]
    assert domain.verify_secret("s3cret", encoded)
    assert not domain.verify_secret("s3cret!", encoded)
    assert encoded != domain.hash_secret("s3cret")  # salted


async def test_group_membership_answers_which_groups_reach_a_device(
    session: AsyncSession, contoso: Directory
) -> None:
    alex = await contoso.create_user(user_principal_name="alex@contoso.com", display_name="Alex")
    staff = await contoso.create_group("All staff", description="everyone")
    laptops = await contoso.create_group("Laptops")
    await contoso.create_group("Empty")

    assert await contoso.add_member(staff.id, GroupMember(MemberKind.USER, alex.id.upper()))
    assert await contoso.add_member(laptops.id, GroupMember(MemberKind.DEVICE, "dev-0001"))
    assert not await contoso.add_member(laptops.id, GroupMember(MemberKind.DEVICE, "dev-0001"))

    tenant = contoso.tenant.id
    assert await group_ids_for(session, tenant, user_id=alex.id) == {staff.id}
    assert await group_ids_for(session, tenant, device_id="dev-0001") == {laptops.id}
    both = await group_ids_for(session, tenant, user_id=alex.id, device_id="dev-0001")
    assert both == {staff.id, laptops.id}
    assert await group_ids_for(session, tenant, user_id=None, device_id=None) == frozenset()
    assert await group_ids_for(session, tenant, device_id="DEV-0001") == frozenset()
    assert await contoso.list_members(staff.id) == [GroupMember(MemberKind.USER, alex.id)]
    assert [g.display_name for g in await contoso.list_groups()] == [
        "All staff",
        "Empty",
        "Laptops",
    ]

    assert await contoso.remove_member(laptops.id, GroupMember(MemberKind.DEVICE, "dev-0001"))
    assert not await contoso.remove_member(laptops.id, GroupMember(MemberKind.DEVICE, "dev-0001"))
    assert await group_ids_for(session, tenant, device_id="dev-0001") == frozenset()


async def test_membership_stays_within_the_tenant(
    session: AsyncSession, contoso: Directory
) -> None:
    fabrikam_tenant = await create_tenant(session, display_name="F", default_domain="fabrikam.com")
    fabrikam = await directory(session, fabrikam_tenant.id)
    outsider = await fabrikam.create_user(
        user_principal_name="eve@fabrikam.com", display_name="Eve"
    )
    theirs = await fabrikam.create_group("Theirs")
    ours = await contoso.create_group("Ours")
    await fabrikam.add_member(theirs.id, GroupMember(MemberKind.DEVICE, "dev-9"))

    with pytest.raises(NotFound):
        await contoso.add_member(ours.id, GroupMember(MemberKind.USER, outsider.id))
    with pytest.raises(NotFound):
        await contoso.add_member(theirs.id, GroupMember(MemberKind.DEVICE, "dev-1"))
    with pytest.raises(NotFound):
        await contoso.list_members(theirs.id)
    assert await contoso.get_user(outsider.id) is None
    assert await contoso.get_group(theirs.id) is None
    assert await group_ids_for(session, contoso.tenant.id, device_id="dev-9") == frozenset()


async def test_an_app_registration_shows_its_secret_once(
    session: AsyncSession, contoso: Directory
) -> None:
    app, secret = await contoso.create_app_registration(
        "SCEP server", permissions=["SCEP_Challenge_Provider", "application.read.all"]
    )

    assert len(secret) == 40
    assert secret[3:6] == "8Q~"
    assert app.secret_hint == secret[:3]
    assert app.permissions == {"scep_challenge_provider", "Application.Read.All"}
    assert app.permissions_for(domain.Resource.INTUNE) == ["scep_challenge_provider"]
    assert await contoso.authenticate_app(app.app_id.upper(), secret) == app
    assert await contoso.get_service_principal(app.object_id) == app
    with pytest.raises(InvalidCredential):
        await contoso.authenticate_app(app.app_id, secret[:-1])
    with pytest.raises(NotFound):
        await contoso.authenticate_app("00000000-0000-0000-0000-000000000000", secret)
    stored = await session.scalar(select(AppRow.secret_hash).where(AppRow.app_id == app.app_id))
    assert stored is not None
    assert secret not in stored


async def test_an_app_registration_may_be_seeded_with_its_id_and_secret(
    contoso: Directory,
) -> None:
    app_id = "11111111-2222-3333-4444-555555555555"
    app, secret = await contoso.create_app_registration(
        "Seeded", app_id=app_id, secret="lab-secret"
    )

    assert (app.app_id, secret) == (app_id, "lab-secret")
    assert await contoso.get_app_registration(app_id) == app
    with pytest.raises(AlreadyExists):
        await contoso.create_app_registration("Twice", app_id=app_id)
    with pytest.raises(InvalidValue):
        await contoso.create_app_registration("Too much", permissions=["Directory.ReadWrite.All"])
