"""Microsoft Graph's groups, the few calls the lab needs to target profiles (served under both
`/v1.0` and `/beta`):

    GET    /v1.0/groups[?$filter=displayName eq '...'][&$top=n]
    POST   /v1.0/groups                          {"displayName", "description"}   201
    GET    /v1.0/groups/{id}
    GET    /v1.0/groups/{id}/members
    POST   /v1.0/groups/{id}/members/$ref        {"@odata.id": "https://graph.microsoft.com/
                                                  v1.0/directoryObjects/{id}"}     204
    DELETE /v1.0/groups/{id}/members/{memberId}/$ref                                204

A member is a user of the tenant or a device. Where Entra ID would hold the device's Entra
object, the lab's groups hold the Intune managed device id directly (the lab has no Entra device
objects): `{id}` in `@odata.id` is a user id or a managedDevice id, and a device member lists as
a `#microsoft.graph.device` whose `id` is that managed device id. Membership is direct (no
nesting) and is what an assignment reaches: a device added to a group gets the group's profiles
at its next check-in; one removed (or whose user is removed) has the certificates of profiles
that no longer reach it queued for revocation at once, and is told to delete them at check-in.

Reading needs an administrator role (Read Only Operator too); writing Global or Intune
Administrator. Writes are audited (category GroupManagement). Errors answer in Graph's shape.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from .. import management as mgmt
from ..domain import identity as domain
from ..identity_auth import GraphError
from ..management.odata import parse_filter
from ..management.records import AuditResource, ModifiedProperty
from ..membership import device_groups
from ..store.identity import Directory, directory
from .admin import Call, GraphRoute, Read, Top, Write

router = APIRouter(route_class=GraphRoute, tags=["groups (Graph)"])
VERSIONS = ("v1.0", "beta")
Json = dict[str, object]
Filter = Annotated[str | None, Query(alias="$filter")]
_GRAPH = "#microsoft.graph."
_REFERENCE = re.compile(
    r"(?:^|/)(?:directoryObjects|users|devices)(?:/([^/()']+)|\('([^/()']+)'\))/?$"
)


class NewGroup(BaseModel):
    """The body of `POST /groups`. Graph's other required properties (mailEnabled,
    mailNickname, securityEnabled) are accepted and not kept: every lab group is a security
    group."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", str_strip_whitespace=True)
    display_name: str = Field(alias="displayName", min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)


class MemberReference(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    odata_id: str = Field(alias="@odata.id", min_length=1)


@router.get("/groups")
async def list_groups(call: Read, request: Request, filter: Filter = None, top: Top = None) -> Json:
    """`$filter`: displayName or id, with eq, ne or startswith (case-insensitive, as Entra)."""
    clauses = parse_filter(filter, ("displayName", "id"))
    found = await (await _directory(call)).list_groups()
    for clause in clauses:
        found = [g for g in found if _matches(g, clause.field, clause.op, clause.value)]
    return _collection(call, request, "groups", [_group_json(g) for g in found[:top]])


@router.post("/groups", status_code=201)
async def create_group(body: NewGroup, call: Write, request: Request) -> Json:
    people = await _directory(call)
    group = await people.create_group(body.display_name, description=body.description)
    await _audit(call, group, "Add group", "Create")
    return _entity(call, request, "groups", _group_json(group))


@router.get("/groups/{group_id}")
async def get_group(group_id: str, call: Read, request: Request) -> Json:
    group = await _group(await _directory(call), group_id)
    return _entity(call, request, "groups", _group_json(group))


@router.get("/groups/{group_id}/members")
async def list_members(group_id: str, call: Read, request: Request) -> Json:
    people = await _directory(call)
    group = await _group(people, group_id)
    members = await people.list_members(group.id)
    devices = await mgmt.devices_by_id(
        call.session, call.tenant_id, [m.id for m in members if m.kind is domain.MemberKind.DEVICE]
    )
    items: list[Json] = []
    for member in members:
        if member.kind is domain.MemberKind.USER:
            user = await people.get_user(member.id)
            items.append(_user_json(member.id, user))
        else:
            items.append(_device_json(member.id, devices.get(member.id)))
    return _collection(call, request, "directoryObjects", items)


@router.post("/groups/{group_id}/members/$ref", status_code=204)
async def add_member(group_id: str, body: MemberReference, call: Write) -> None:
    """Add the user or managed device `@odata.id` names (400 if it is in the group already)."""
    people = await _directory(call)
    group = await _group(people, group_id)
    match = _REFERENCE.search(body.odata_id)
    if match is None:
        raise GraphError(400, "Request_BadRequest", f"Invalid object identifier '{body.odata_id}'.")
    member = await _member(call, people, match.group(1) or match.group(2))
    if not await people.add_member(group.id, member):
        raise GraphError(
            400,
            "Request_BadRequest",
            "One or more added object references already exist for the following modified "
            "properties: 'members'.",
        )
    await _audit(call, group, "Add member to group", "Patch", member, added=True)


@router.delete("/groups/{group_id}/members/{member_id}/$ref", status_code=204)
async def remove_member(group_id: str, member_id: str, call: Write) -> None:
    """Take the user or managed device out of the group (404 if it is not in it); queue the
    revocation of certificates of profiles that no longer reach the devices concerned."""
    people = await _directory(call)
    group = await _group(people, group_id)
    user = await people.get_user(member_id)
    kind = domain.MemberKind.USER if user is not None else domain.MemberKind.DEVICE
    member = domain.GroupMember(kind, user.id if user is not None else member_id.lower())
    if not await people.remove_member(group.id, member):
        raise _not_found(member_id)
    await _audit(call, group, "Remove member from group", "Patch", member, added=False)
    await _revoke_unreached(call, member)


async def _revoke_unreached(call: Call, member: domain.GroupMember) -> None:
    """For the devices a membership change concerns (the device, or the user's devices):
    queue revocation of certificates of profiles that no longer reach them."""
    if member.kind is domain.MemberKind.USER:
        query = f"userId eq '{member.id}'"
        devices = await mgmt.list_devices(call.session, call.tenant_id, filter=query)
    else:
        found = await mgmt.devices_by_id(call.session, call.tenant_id, [member.id])
        devices = list(found.values())
    for device in devices:
        groups = await device_groups(call.session, device)
        await mgmt.revoke_untargeted_certificates(
            call.session, call.tenant_id, device.id, groups, now=call.now
        )


async def _directory(call: Call) -> Directory:
    try:
        return await directory(call.session, call.tenant_id)
    except domain.NotFound as exc:
        raise _not_found(call.tenant_id) from exc


async def _group(people: Directory, group_id: str) -> domain.Group:
    group = await people.get_group(group_id)
    if group is None:
        raise _not_found(group_id)
    return group


async def _member(call: Call, people: Directory, object_id: str) -> domain.GroupMember:
    """A user of the tenant, else a managed device of it; 404 for neither."""
    user = await people.get_user(object_id)
    if user is not None:
        return domain.GroupMember(domain.MemberKind.USER, user.id)
    try:
        device = await mgmt.get_device(call.session, call.tenant_id, object_id)
    except mgmt.NotFound as exc:
        raise _not_found(object_id) from exc
    return domain.GroupMember(domain.MemberKind.DEVICE, device.id)


def _not_found(object_id: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def _matches(group: domain.Group, field: str, op: str, value: str) -> bool:
    actual = (group.display_name if field == "displayName" else group.id).casefold()
    wanted = value.casefold()
    if op == "eq":
        return actual == wanted
    if op == "ne":
        return actual != wanted
    return actual.startswith(wanted)


async def _audit(
    call: Call,
    group: domain.Group,
    activity: str,
    operation: str,
    member: domain.GroupMember | None = None,
    *,
    added: bool = True,
) -> None:
    changes: tuple[ModifiedProperty, ...] = ()
    if member is not None:
        value = f"{member.kind}:{member.id}"
        changes = (ModifiedProperty("members", None if added else value, value if added else None),)
    await mgmt.record_audit(
        call.session,
        call.tenant_id,
        call.actor,
        activity=activity,
        operation_type=operation,
        category="GroupManagement",
        component_name="Groups",
        resources=[AuditResource(group.display_name, "Group", group.id, changes)],
        now=call.now,
    )


def _group_json(group: domain.Group) -> Json:
    return {
        "@odata.type": _GRAPH + "group",
        "id": group.id,
        "displayName": group.display_name,
        "description": group.description,
        "groupTypes": [],
        "mailEnabled": False,
        "securityEnabled": True,
    }


def _user_json(user_id: str, user: domain.User | None) -> Json:
    return {
        "@odata.type": _GRAPH + "user",
        "id": user_id,
        "displayName": None if user is None else user.display_name,
        "userPrincipalName": None if user is None else user.user_principal_name,
        "mail": None if user is None else user.mail,
    }


def _device_json(device_id: str, device: mgmt.ManagedDevice | None) -> Json:
    """A device member: `id` is the Intune managed device id (a lab simplification); a device
    deleted since is listed by its id alone."""
    return {
        "@odata.type": _GRAPH + "device",
        "id": device_id,
        "displayName": None if device is None else device.device_name,
        "deviceId": None if device is None else device.azure_ad_device_id,
        "operatingSystem": None if device is None else device.operating_system,
        "operatingSystemVersion": None if device is None else device.os_version,
    }


def _version(request: Request) -> str:
    first = request.url.path.lstrip("/").split("/", 1)[0]
    return first if first in VERSIONS else VERSIONS[0]


def _context(call: Call, request: Request, path: str) -> str:
    return f"{call.base_url.rstrip('/')}/{_version(request)}/$metadata#{path}"


def _collection(call: Call, request: Request, path: str, items: list[Json]) -> Json:
    return {"@odata.context": _context(call, request, path), "value": items}


def _entity(call: Call, request: Request, path: str, item: dict[str, Any]) -> Json:
    return {"@odata.context": _context(call, request, path) + "/$entity", **item}
