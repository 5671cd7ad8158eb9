"""Tables of the identity area, and its service layer: tenants, and each tenant's `Directory`
of users, groups and app registrations, in the caller's `AsyncSession` (never committed here:
the caller owns the unit of work). Values are `cloud_sim.domain.identity`'s frozen ones, never
rows; errors are its `NotFound`, `AlreadyExists`, `InvalidValue`, `InvalidCredential`. Ids are
lower-case GUID strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, TypeVar, Unpack

from sqlalchemy import JSON, ColumnElement, ForeignKey, String, Text, false, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from ..domain import identity as domain
from .base import Base


class TenantRow(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    default_domain: Mapped[str] = mapped_column(String(253), unique=True)  # lower case


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_principal_name: Mapped[str] = mapped_column(String(320))
    upn_key: Mapped[str] = mapped_column(String(320), unique=True)  # lower case: UPNs ignore it
    display_name: Mapped[str] = mapped_column(String(256))
    mail: Mapped[str | None] = mapped_column(String(320))
    on_premises_sam_account_name: Mapped[str | None] = mapped_column(String(64))
    on_premises_security_identifier: Mapped[str | None] = mapped_column(String(184))
    on_premises_distinguished_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSON)
    intune_licensed: Mapped[bool] = mapped_column(default=True)
    account_enabled: Mapped[bool] = mapped_column(default=True)


class GroupRow(Base):
    __tablename__ = "directory_groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)


class GroupMemberRow(Base):  # a user of the tenant, or a device (an id another area owns)
    __tablename__ = "group_members"
    group_id: Mapped[str] = mapped_column(ForeignKey("directory_groups.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class AppRow(Base):
    __tablename__ = "app_registrations"
    app_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(36), unique=True)  # its service principal's
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    secret_hash: Mapped[str | None] = mapped_column(String(256))
    secret_hint: Mapped[str | None] = mapped_column(String(3))
    permissions: Mapped[list[str]] = mapped_column(JSON)


async def create_tenant(
    session: AsyncSession, *, display_name: str, default_domain: str, tenant_id: str | None = None
) -> domain.Tenant:
    name = domain.check_domain(default_domain)
    row = TenantRow(id=_guid(tenant_id), display_name=display_name, default_domain=name)
    await _insert(session, row, f"tenant {row.id} or domain {name}")
    return _value(domain.Tenant, row)


async def find_tenant(session: AsyncSession, id_or_domain: str) -> domain.Tenant | None:
    """The tenant named by its id or its default domain (any case), as in a token URL."""
    key = id_or_domain.lower()
    query = select(TenantRow).where(or_(TenantRow.id == key, TenantRow.default_domain == key))
    row = (await session.scalars(query)).first()
    return None if row is None else _value(domain.Tenant, row)


async def directory(session: AsyncSession, tenant_id: str) -> Directory:
    """The directory of tenant `tenant_id`; `domain.NotFound` if there is no such tenant."""
    if (tenant := await find_tenant(session, tenant_id)) is None:
        raise domain.NotFound(f"tenant {tenant_id}")
    return Directory(session, tenant)


async def group_ids_for(
    session: AsyncSession, tenant: str, *, user_id: str | None = None, device_id: str | None = None
) -> frozenset[domain.GroupId]:
    """The tenant's groups that directly contain the user or the device (the union when both
    are given: what an assignment to a group reaches). Nested groups are not expanded."""
    pairs = (("user", user_id and user_id.lower()), ("device", device_id))  # MemberKind values
    wanted = [(GroupMemberRow.kind == k) & (GroupMemberRow.id == i) for k, i in pairs if i]
    query = select(GroupMemberRow.group_id).join(GroupRow, GroupRow.id == GroupMemberRow.group_id)
    query = query.where(GroupRow.tenant_id == tenant.lower(), or_(false(), *wanted))
    return frozenset(domain.GroupId(gid) for gid in await session.scalars(query))


@dataclass(frozen=True)
class Directory:
    """One tenant's users, groups and app registrations, in the caller's session."""

    session: AsyncSession
    tenant: domain.Tenant

    async def create_user(
        self,
        *,
        user_principal_name: str,
        display_name: str,
        password: str | None = None,
        roles: Iterable[str] = (),
        user_id: str | None = None,
        **attributes: Unpack[domain.UserAttributes],
    ) -> domain.User:
        """A user (mail, on-premises name, SID and DN, licence: `UserAttributes`); `roles` are
        `DirectoryRole` values. Without a `password` they cannot sign in."""
        if (sid := attributes.get("on_premises_security_identifier")) is not None:
            domain.check_sid(sid)
        row = UserRow(
            id=_guid(user_id),
            tenant_id=self.tenant.id,
            user_principal_name=domain.check_upn(user_principal_name),
            upn_key=user_principal_name.lower(),
            display_name=display_name,
            password_hash=None if password is None else domain.hash_secret(password),
            roles=sorted(domain.canonical_roles(roles)),
            **attributes,
        )
        await _insert(self.session, row, f"user {row.id} or {user_principal_name}")
        return _user(row)

    async def get_user(self, user_id: str) -> domain.User | None:
        row = await self._get(UserRow, user_id)
        return None if row is None else _user(row)

    async def find_user(self, upn: str) -> domain.User | None:
        """The user with this user principal name (any case), if any."""
        row = await self._first(UserRow, UserRow.upn_key == upn.lower())
        return None if row is None else _user(row)

    async def list_users(self) -> list[domain.User]:
        return [_user(row) for row in await self._all(UserRow, UserRow.upn_key)]

    async def authenticate_user(self, upn: str, password: str) -> domain.User:
        """The user if `password` is theirs: `NotFound` for an unknown UPN, `InvalidCredential`
        for a wrong password or a user without one (a disabled account is the caller's)."""
        row = await self._first(UserRow, UserRow.upn_key == upn.lower())
        return _user(self._check(row, password, f"user {upn}"))

    async def create_group(
        self, display_name: str, *, description: str | None = None, group_id: str | None = None
    ) -> domain.Group:
        row = GroupRow(id=_guid(group_id), tenant_id=self.tenant.id, display_name=display_name)
        row.description = description
        await _insert(self.session, row, f"group {row.id}")
        return _value(domain.Group, row)

    async def get_group(self, group_id: str) -> domain.Group | None:
        row = await self._get(GroupRow, group_id)
        return None if row is None else _value(domain.Group, row)

    async def list_groups(self) -> list[domain.Group]:
        rows = await self._all(GroupRow, GroupRow.display_name)
        return [_value(domain.Group, row) for row in rows]

    async def add_member(self, group_id: str, member: domain.GroupMember) -> bool:
        """Put a user of the tenant, or a device by its id, in a group; False if already in."""
        key = await self._member_key(group_id, member)
        if await self.session.get(GroupMemberRow, key) is not None:
            return False
        row = GroupMemberRow(group_id=key[0], kind=key[1], id=key[2])
        await _insert(self.session, row, f"{member.kind} {member.id} in group {group_id}")
        return True

    async def remove_member(self, group_id: str, member: domain.GroupMember) -> bool:
        """Take a member out of a group; False if it was not in it."""
        row = await self.session.get(GroupMemberRow, await self._member_key(group_id, member))
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()
        return row is not None

    async def list_members(self, group_id: str) -> list[domain.GroupMember]:
        group = await self._group(group_id)
        query = select(GroupMemberRow).where(GroupMemberRow.group_id == group.id)
        rows = await self.session.scalars(query.order_by(GroupMemberRow.kind, GroupMemberRow.id))
        return [domain.GroupMember(domain.MemberKind(row.kind), row.id) for row in rows]

    async def create_app_registration(
        self,
        display_name: str,
        *,
        permissions: Iterable[str] = (),
        secret: str | None = None,
        app_id: str | None = None,
    ) -> tuple[domain.AppRegistration, str]:
        """An app registration, its service principal, admin-consented `permissions` (from
        `PERMISSIONS`) and client secret (`secret`, or random): shown once, only hashed kept."""
        plain = secret or domain.new_client_secret()
        row = AppRow(
            app_id=_guid(app_id),
            object_id=str(uuid.uuid4()),
            tenant_id=self.tenant.id,
            display_name=display_name,
            secret_hash=domain.hash_secret(plain),
            secret_hint=plain[:3],
            permissions=sorted({domain.canonical_permission(p) for p in permissions}),
        )
        await _insert(self.session, row, f"app registration {row.app_id}")
        return _app(row), plain

    async def get_app_registration(self, app_id: str) -> domain.AppRegistration | None:
        row = await self._get(AppRow, app_id)
        return None if row is None else _app(row)

    async def get_service_principal(self, object_id: str) -> domain.AppRegistration | None:
        """The app registration whose service principal is `object_id` (an app token's oid)."""
        row = await self._first(AppRow, AppRow.object_id == object_id.lower())
        return None if row is None else _app(row)

    async def authenticate_app(self, app_id: str, secret: str) -> domain.AppRegistration:
        """The app if `secret` is its client secret: `domain.NotFound` for an app unknown in the
        tenant, `domain.InvalidCredential` for a wrong secret."""
        row = await self._get(AppRow, app_id)
        return _app(self._check(row, secret, f"app {app_id}"))

    def _check(self, row: _Signer | None, secret: str, what: str) -> _Signer:
        if row is None:
            raise domain.NotFound(f"{what} in tenant {self.tenant.id}")
        stored = row.password_hash if isinstance(row, UserRow) else row.secret_hash
        if not domain.verify_secret(secret, stored):
            raise domain.InvalidCredential(f"wrong password or secret for {what}")
        return row

    async def _get(self, model: type[_Row], key: str) -> _Row | None:
        row = await self.session.get(model, key.lower())
        return row if row is not None and row.tenant_id == self.tenant.id else None

    async def _first(self, model: type[_Row], where: ColumnElement[bool]) -> _Row | None:
        query = select(model).where(where, model.tenant_id == self.tenant.id)
        return (await self.session.scalars(query)).first()

    async def _all(self, model: type[_Row], order: InstrumentedAttribute[str]) -> list[_Row]:
        query = select(model).where(model.tenant_id == self.tenant.id).order_by(order)
        return list(await self.session.scalars(query))

    async def _group(self, group_id: str) -> domain.Group:
        if (group := await self.get_group(group_id)) is None:
            raise domain.NotFound(f"group {group_id} in tenant {self.tenant.id}")
        return group

    async def _member_key(self, group_id: str, member: domain.GroupMember) -> tuple[str, str, str]:
        group = await self._group(group_id)
        if member.kind is domain.MemberKind.DEVICE:
            return group.id, member.kind, member.id
        if await self.get_user(member.id) is None:
            raise domain.NotFound(f"user {member.id} in tenant {self.tenant.id}")
        return group.id, member.kind, member.id.lower()


_Row = TypeVar("_Row", UserRow, GroupRow, AppRow)
_Signer = TypeVar("_Signer", UserRow, AppRow)
_Value = TypeVar("_Value", domain.Tenant, domain.Group, domain.User, domain.AppRegistration)


def _guid(value: str | None) -> str:
    try:
        return str(uuid.UUID(value)) if value is not None else str(uuid.uuid4())
    except ValueError as exc:
        raise domain.InvalidValue(f"{value!r} is not a GUID") from exc


async def _insert(session: AsyncSession, row: Base, what: str) -> None:
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise domain.AlreadyExists(f"{what} already exists") from exc


def _value(cls: type[_Value], row: Base, **computed: Any) -> _Value:
    columns = {f.name: getattr(row, f.name) for f in fields(cls) if f.name not in computed}
    return cls(**columns, **computed)


def _user(row: UserRow) -> domain.User:
    return _value(domain.User, row, roles=domain.canonical_roles(row.roles))


def _app(row: AppRow) -> domain.AppRegistration:
    return _value(domain.AppRegistration, row, permissions=frozenset(row.permissions))
