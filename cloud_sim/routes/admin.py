"""HTTP routes of the cloud's admin area: Graph's `/beta/deviceManagement/...` for managed
devices, device configurations (trusted-certificate and SCEP profiles) and their assignments,
NDES connectors, certificate-state and device-status reports, and the audit log.

Every route names its caller (AdminCaller to change, ReaderCaller to read) and works in the
caller's tenant only. Errors answer in Graph's shape, `{"error": {"code", "message"}}`: the
area's errors by their own status and code, a malformed body or query as 400 BadRequest.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from .. import management as mgmt
from ..auth import AdminCaller, Principal, ReaderCaller
from ..deps import Context, Session
from ..management import Actor, GroupLookup, ManagedDevice, ManagementError, NewDevice
from ..management.graph import (
    AssignBody,
    CertificateStateOut,
    DeviceStatusOut,
    ManagedDeviceOut,
    NdesConnectorOut,
    assignment_json,
    audit_event_json,
    configuration_json,
    graph_collection,
    graph_entity,
)
from ..management.profiles import describe_errors
from ..membership import device_groups, with_primary_user

Json = dict[str, object]
JsonBody = Annotated[dict[str, Any], Body()]


def graph_error(request: Request, status: int, code: str, message: str) -> JSONResponse:
    """Graph's error body, its innerError as the identity area writes it."""
    inner = {
        "date": request.app.state.cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": request.headers.get("client-request-id", ""),
    }
    return JSONResponse(
        {"error": {"code": code, "message": message, "innerError": inner}}, status_code=status
    )


class GraphRoute(APIRoute):
    """Answers the area's errors and request validation failures in Graph's error shape. (The
    session dependency has rolled back by then: a refused request changes nothing.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def graph_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ManagementError as exc:
                return graph_error(request, exc.status, exc.code, str(exc))
            except RequestValidationError as exc:
                message = describe_errors(exc.errors(), "request")
                return graph_error(request, 400, "BadRequest", message)

        return graph_handler


router = APIRouter(prefix="/beta/deviceManagement", route_class=GraphRoute, tags=["admin"])


@dataclass(frozen=True)
class Call:
    """One admin API call: who (in which tenant), on which session, when, and where from."""

    principal: Principal
    session: AsyncSession
    now: dt.datetime
    base_url: str

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def actor(self) -> Actor:
        return Actor(self.principal.object_id, self.principal.name, self.principal.kind)

    def entity(self, path: str, item: Json) -> Json:
        return graph_entity(self.base_url, path, item)

    def collection(self, path: str, items: Iterable[Json]) -> Json:
        return graph_collection(self.base_url, path, items)


async def admin_call(admin: AdminCaller, session: Session, context: Context) -> Call:
    return Call(admin, session, context.clock.now(), context.settings.public_base_url)


async def reader_call(reader: ReaderCaller, session: Session, context: Context) -> Call:
    return Call(reader, session, context.clock.now(), context.settings.public_base_url)


async def get_group_lookup(session: Session) -> GroupLookup:
    """The groups an assignment reaches a device through: the device's and its primary user's
    (the identity area's membership)."""

    async def lookup(device: ManagedDevice) -> frozenset[str]:
        return await device_groups(session, device)

    return lookup


Write = Annotated[Call, Depends(admin_call)]
Read = Annotated[Call, Depends(reader_call)]
Groups = Annotated[GroupLookup, Depends(get_group_lookup)]
Filter = Annotated[str | None, Query(alias="$filter")]
Top = Annotated[int | None, Query(alias="$top", ge=1, le=1000)]
DEVICES, CONFIGURATIONS = "managedDevices", "deviceConfigurations"


# managed devices


@router.post(f"/{DEVICES}", status_code=201)
async def create_managed_device(body: NewDevice, call: Write) -> Json:
    """A device for the lab (`platform`: windows, ios, macos or android), answered with its
    `id`; its primary user by `userId` or `userPrincipalName`, see `with_primary_user`."""
    body = await with_primary_user(call.session, call.tenant_id, body)
    device = await mgmt.create_device(
        call.session, call.tenant_id, body, actor=call.actor, now=call.now
    )
    return call.entity(DEVICES, ManagedDeviceOut.of(device).graph_json())


@router.get(f"/{DEVICES}")
async def list_managed_devices(call: Read, filter: Filter = None, top: Top = None) -> Json:
    devices = await mgmt.list_devices(call.session, call.tenant_id, filter=filter)
    return call.collection(DEVICES, [ManagedDeviceOut.of(d).graph_json() for d in devices[:top]])


@router.get(f"/{DEVICES}/{{device_id}}")
async def get_managed_device(device_id: str, call: Read) -> Json:
    device = await mgmt.get_device(call.session, call.tenant_id, device_id)
    return call.entity(DEVICES, ManagedDeviceOut.of(device).graph_json())


@router.post(f"/{DEVICES}/{{device_id}}/retire", status_code=204)
async def retire_managed_device(device_id: str, call: Write) -> None:
    await mgmt.retire_device(
        call.session, call.tenant_id, device_id, actor=call.actor, now=call.now
    )


@router.post(f"/{DEVICES}/{{device_id}}/wipe", status_code=204)
async def wipe_managed_device(device_id: str, call: Write) -> None:
    """Graph's wipe body (keepEnrollmentData, keepUserData, ...) is accepted and ignored."""
    await mgmt.wipe_device(call.session, call.tenant_id, device_id, actor=call.actor, now=call.now)


@router.delete(f"/{DEVICES}/{{device_id}}", status_code=204)
async def delete_managed_device(device_id: str, call: Write) -> None:
    await mgmt.delete_device(
        call.session, call.tenant_id, device_id, actor=call.actor, now=call.now
    )


@router.get(f"/{DEVICES}/{{device_id}}/managedDeviceCertificateStates")
async def device_certificate_states(device_id: str, call: Read) -> Json:
    states = await mgmt.certificate_states_for_device(call.session, call.tenant_id, device_id)
    path = f"{DEVICES}('{device_id}')/managedDeviceCertificateStates"
    return call.collection(path, [CertificateStateOut.of(s).graph_json() for s in states])


# device configurations: trusted-certificate and SCEP profiles


@router.post(f"/{CONFIGURATIONS}", status_code=201)
async def create_device_configuration(body: JsonBody, call: Write) -> Json:
    configuration = await mgmt.create_configuration(
        call.session, call.tenant_id, body, actor=call.actor, now=call.now
    )
    return call.entity(CONFIGURATIONS, configuration_json(configuration))


@router.get(f"/{CONFIGURATIONS}")
async def list_device_configurations(call: Read, filter: Filter = None, top: Top = None) -> Json:
    configurations = await mgmt.list_configurations(call.session, call.tenant_id, filter=filter)
    return call.collection(CONFIGURATIONS, [configuration_json(c) for c in configurations[:top]])


@router.get(f"/{CONFIGURATIONS}/{{configuration_id}}")
async def get_device_configuration(configuration_id: str, call: Read) -> Json:
    configuration = await mgmt.get_configuration(call.session, call.tenant_id, configuration_id)
    return call.entity(CONFIGURATIONS, configuration_json(configuration))


@router.patch(f"/{CONFIGURATIONS}/{{configuration_id}}")
async def patch_device_configuration(configuration_id: str, body: JsonBody, call: Write) -> Json:
    configuration = await mgmt.update_configuration(
        call.session, call.tenant_id, configuration_id, body, actor=call.actor, now=call.now
    )
    return call.entity(CONFIGURATIONS, configuration_json(configuration))


@router.delete(f"/{CONFIGURATIONS}/{{configuration_id}}", status_code=204)
async def delete_device_configuration(configuration_id: str, call: Write) -> None:
    await mgmt.delete_configuration(
        call.session, call.tenant_id, configuration_id, actor=call.actor, now=call.now
    )


@router.post(f"/{CONFIGURATIONS}/{{configuration_id}}/assign")
async def assign_device_configuration(
    configuration_id: str, body: AssignBody, call: Write, groups: Groups
) -> Json:
    assignments, _ = await mgmt.assign_configuration(
        call.session,
        call.tenant_id,
        configuration_id,
        body.targets(),
        actor=call.actor,
        now=call.now,
        groups_of=groups,
    )
    path = f"{CONFIGURATIONS}('{configuration_id}')/assignments"
    return call.collection(path, [assignment_json(a) for a in assignments])


@router.get(f"/{CONFIGURATIONS}/{{configuration_id}}/assignments")
async def device_configuration_assignments(configuration_id: str, call: Read) -> Json:
    assignments = await mgmt.list_assignments(call.session, call.tenant_id, configuration_id)
    path = f"{CONFIGURATIONS}('{configuration_id}')/assignments"
    return call.collection(path, [assignment_json(a) for a in assignments])


@router.get(f"/{CONFIGURATIONS}/{{configuration_id}}/managedDeviceCertificateStates")
async def profile_certificate_states(configuration_id: str, call: Read) -> Json:
    states = await mgmt.certificate_states_for_profile(
        call.session, call.tenant_id, configuration_id
    )
    path = f"{CONFIGURATIONS}('{configuration_id}')/managedDeviceCertificateStates"
    return call.collection(path, [CertificateStateOut.of(s).graph_json() for s in states])


@router.get(f"/{CONFIGURATIONS}/{{configuration_id}}/deviceStatuses")
async def profile_device_statuses(configuration_id: str, call: Read) -> Json:
    statuses = await mgmt.device_statuses_for_profile(
        call.session, call.tenant_id, configuration_id
    )
    path = f"{CONFIGURATIONS}('{configuration_id}')/deviceStatuses"
    return call.collection(path, [DeviceStatusOut.of(s).graph_json() for s in statuses])


# NDES connectors


@router.get("/ndesConnectors")
async def list_ndes_connectors(call: Read) -> Json:
    connectors = await mgmt.list_connectors(call.session, call.tenant_id)
    items = [NdesConnectorOut.of(c, call.now).graph_json() for c in connectors]
    return call.collection("ndesConnectors", items)


@router.get("/ndesConnectors/{connector_id}")
async def get_ndes_connector(connector_id: str, call: Read) -> Json:
    connector = await mgmt.get_connector(call.session, call.tenant_id, connector_id)
    return call.entity("ndesConnectors", NdesConnectorOut.of(connector, call.now).graph_json())


@router.delete("/ndesConnectors/{connector_id}", status_code=204)
async def delete_ndes_connector(connector_id: str, call: Write) -> None:
    await mgmt.delete_connector(
        call.session, call.tenant_id, connector_id, actor=call.actor, now=call.now
    )


# the audit log


@router.get("/auditEvents")
async def list_audit_log(call: Read, top: Top = None, category: str | None = None) -> Json:
    events = await mgmt.list_audit_events(call.session, call.tenant_id, category=category, top=top)
    return call.collection("auditEvents", [audit_event_json(e) for e in events])


@router.get("/auditEvents/{event_id}")
async def get_audit_log_event(event_id: str, call: Read) -> Json:
    event = await mgmt.get_audit_event(call.session, call.tenant_id, event_id)
    return call.entity("auditEvents", audit_event_json(event))
