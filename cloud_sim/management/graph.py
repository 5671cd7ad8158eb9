"""The admin API's wire shapes: Graph's resources as pydantic models (camelCase through aliases,
`@odata.type` on every resource), built from the area's records, plus the `assign` body.
`graph_entity` and `graph_collection` add Graph's `@odata.context`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .enums import AssignmentTargetType, Platform
from .records import (
    Assignment,
    AssignmentTarget,
    AuditEvent,
    CertificateState,
    DeviceConfiguration,
    DeviceStatus,
    ManagedDevice,
    NdesConnector,
)

_GRAPH = "#microsoft.graph."
_WINDOWS_ONLY = ("keyStorageProvider", "certificateStore", "destinationStore")


class GraphModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def graph_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class ManagedDeviceOut(GraphModel):
    odata_type: str = Field(default=_GRAPH + "managedDevice", alias="@odata.type")
    id: str
    device_name: str
    operating_system: str
    os_version: str | None
    serial_number: str | None
    imei: str | None
    meid: str | None
    wifi_mac_address: str | None = Field(alias="wiFiMacAddress")
    azure_ad_device_id: str | None = Field(alias="azureADDeviceId")
    user_id: str | None
    user_principal_name: str | None
    user_display_name: str | None
    email_address: str | None
    management_state: str
    enrolled_date_time: dt.datetime
    last_sync_date_time: dt.datetime
    managed_device_owner_type: str = "company"
    # lab extensions (not Graph's): the platform and the FQDN behind {{FullyQualifiedDomainName}}
    platform: Platform
    fully_qualified_domain_name: str | None

    @classmethod
    def of(cls, device: ManagedDevice) -> ManagedDeviceOut:
        return cls(
            **{k: v for k, v in vars(device).items() if k in cls.model_fields},
            enrolled_date_time=device.enrolled_at,
            last_sync_date_time=device.last_sync_at,
        )


def configuration_json(configuration: DeviceConfiguration) -> dict[str, object]:
    """A profile as Graph returns it: its type, the common properties, then its settings
    (Windows-only properties only on Windows types)."""
    settings = configuration.settings.graph_json()
    if configuration.platform is not Platform.WINDOWS:
        settings = {k: v for k, v in settings.items() if k not in _WINDOWS_ONLY}
    return {
        "@odata.type": configuration.odata_type,
        "id": configuration.id,
        "displayName": configuration.display_name,
        "description": configuration.description,
        "createdDateTime": _time(configuration.created_at),
        "lastModifiedDateTime": _time(configuration.modified_at),
        "version": configuration.version,
        "roleScopeTagIds": ["0"],
        **settings,
    }


class TargetIn(GraphModel):
    model_config = ConfigDict(extra="ignore")
    odata_type: AssignmentTargetType = Field(alias="@odata.type")
    group_id: str = Field(min_length=1, max_length=64)


class AssignmentIn(GraphModel):
    model_config = ConfigDict(extra="ignore")
    target: TargetIn


class AssignBody(GraphModel):
    """The body of `POST deviceConfigurations/{id}/assign`."""

    model_config = ConfigDict(extra="forbid")
    assignments: list[AssignmentIn]

    def targets(self) -> list[AssignmentTarget]:
        return [AssignmentTarget(a.target.group_id, a.target.odata_type) for a in self.assignments]


def assignment_json(assignment: Assignment) -> dict[str, object]:
    return {
        "@odata.type": _GRAPH + "deviceConfigurationAssignment",
        "id": assignment.id,
        "target": {
            "@odata.type": assignment.target.target_type.value,
            "groupId": assignment.target.group_id,
        },
    }


class CertificateStateOut(GraphModel):
    odata_type: str = Field(default=_GRAPH + "managedDeviceCertificateState", alias="@odata.type")
    id: str
    device_platform: str
    certificate_issuance_state: str
    certificate_revoke_status: str
    certificate_thumbprint: str | None
    certificate_serial_number: str | None
    certificate_issuer: str | None
    certificate_expiration_date_time: dt.datetime | None
    certificate_issuance_date_time: dt.datetime | None
    certificate_key_length: int | None
    certificate_enhanced_key_usage: str | None
    certificate_error_code: int
    device_display_name: str
    user_display_name: str | None
    last_certificate_state_change_date_time: dt.datetime

    @classmethod
    def of(cls, state: CertificateState) -> CertificateStateOut:
        return cls(
            id=state.id,
            device_platform=state.device_platform,
            certificate_issuance_state=state.issuance_state.value,
            certificate_revoke_status=state.revoke_status.value,
            certificate_thumbprint=state.thumbprint,
            certificate_serial_number=state.serial_number or None,
            certificate_issuer=state.issuer,
            certificate_expiration_date_time=state.expiration,
            certificate_issuance_date_time=state.issued_at,
            certificate_key_length=state.key_length,
            certificate_enhanced_key_usage=state.enhanced_key_usage,
            certificate_error_code=state.error_code,
            device_display_name=state.device_display_name,
            user_display_name=state.user_display_name,
            last_certificate_state_change_date_time=state.changed_at,
        )


class DeviceStatusOut(GraphModel):
    odata_type: str = Field(default=_GRAPH + "deviceConfigurationDeviceStatus", alias="@odata.type")
    id: str
    device_display_name: str
    user_principal_name: str | None
    status: str  # Graph's complianceStatus; the console's label maps onto it (ProfileStatus)
    last_reported_date_time: dt.datetime

    @classmethod
    def of(cls, status: DeviceStatus) -> DeviceStatusOut:
        return cls(
            id=status.id,
            device_display_name=status.device_display_name,
            user_principal_name=status.user_principal_name,
            status=status.status.graph_status,
            last_reported_date_time=status.reported_at,
        )


class NdesConnectorOut(GraphModel):
    odata_type: str = Field(default=_GRAPH + "ndesConnector", alias="@odata.type")
    id: str
    display_name: str
    machine_name: str
    state: str
    last_connection_date_time: dt.datetime | None
    enrolled_date_time: dt.datetime
    connector_version: str
    role_scope_tag_ids: list[str] = Field(default_factory=lambda: ["0"])

    @classmethod
    def of(cls, connector: NdesConnector, now: dt.datetime) -> NdesConnectorOut:
        return cls(
            id=connector.id,
            display_name=connector.display_name,
            machine_name=connector.machine_name,
            state=connector.state_at(now).value,
            last_connection_date_time=connector.last_connection_at,
            enrolled_date_time=connector.enrolled_at,
            connector_version=connector.connector_version,
        )


def audit_event_json(event: AuditEvent) -> dict[str, object]:
    user = event.actor.kind == "user"
    return {
        "@odata.type": _GRAPH + "auditEvent",
        "id": event.id,
        "displayName": event.activity,
        "componentName": event.component_name,
        "activity": event.activity,
        "activityType": event.activity,
        "activityOperationType": event.operation_type,
        "activityResult": event.result,
        "activityDateTime": _time(event.activity_date_time),
        "category": event.category,
        "correlationId": event.id,
        "actor": {
            "@odata.type": "microsoft.graph.auditActor",
            "type": {"user": "ItPro", "app": "Application"}.get(event.actor.kind, "Intune"),
            "userId": event.actor.object_id if user else None,
            "userPrincipalName": event.actor.name if user else None,
            "applicationId": None if user else event.actor.object_id or None,
            "applicationDisplayName": None if user else event.actor.name,
        },
        "resources": [
            {
                "@odata.type": "microsoft.graph.auditResource",
                "displayName": r.display_name,
                "type": r.type,
                "resourceId": r.resource_id,
                "modifiedProperties": [
                    {
                        "displayName": p.display_name,
                        "oldValue": p.old_value,
                        "newValue": p.new_value,
                    }
                    for p in r.modified_properties
                ],
            }
            for r in event.resources
        ],
    }


def graph_collection(
    base_url: str, path: str, items: Iterable[dict[str, object]]
) -> dict[str, object]:
    return {"@odata.context": _context(base_url, path), "value": list(items)}


def graph_entity(base_url: str, path: str, item: dict[str, object]) -> dict[str, object]:
    return {"@odata.context": _context(base_url, path) + "/$entity", **item}


def _context(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/beta/$metadata#deviceManagement/{path}"


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
