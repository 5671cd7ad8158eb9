"""Where the identity area meets the management area: the groups an assignment reaches a device
through (its own and its primary user's), and a new device's primary user completed from the
directory."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .domain.identity import NotFound as IdentityNotFound
from .management import InvalidRequest, ManagedDevice, NewDevice
from .store.identity import directory, group_ids_for


async def device_groups(session: AsyncSession, device: ManagedDevice) -> frozenset[str]:
    """The groups that hold the device or its primary user (direct membership)."""
    found = await group_ids_for(
        session, device.tenant_id, user_id=device.user_id, device_id=device.id
    )
    return frozenset(found)


async def with_primary_user(session: AsyncSession, tenant_id: str, new: NewDevice) -> NewDevice:
    """`new` with its primary user's fields completed from the directory: the user named by
    `userId`, else by `userPrincipalName`, gives the other, the display name and the mail.
    InvalidRequest if the two name different users. Unchanged when the directory has no such
    tenant or user (the management area may be used without the identity one)."""
    if new.user_id is None and new.user_principal_name is None:
        return new
    try:
        people = await directory(session, tenant_id)
    except IdentityNotFound:
        return new
    upn = new.user_principal_name
    user = await (people.get_user(new.user_id) if new.user_id else people.find_user(upn or ""))
    if user is None:
        return new
    if upn is not None and upn.lower() != user.user_principal_name.lower():
        raise InvalidRequest(f"userId '{user.id}' is not userPrincipalName '{upn}'")
    return new.model_copy(
        update={
            "user_id": user.id,
            "user_principal_name": user.user_principal_name,
            "user_display_name": new.user_display_name or user.display_name,
            "email_address": new.email_address or user.mail,
        }
    )
