"""What the management services hand out: immutable records of the area's objects, detached from
the database (pure values: no web framework, HTTP client or database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NewType

from shared.api.intune import RevocationErrorCode

from .enums import (
    CONFIGURATION_TYPES,
    AssignmentTargetType,
    CertificateIssuanceState,
    CertificateRevokeStatus,
    ConfigurationKind,
    ConfigurationType,
    ConnectorState,
    ManagementState,
    Platform,
    ProfileStatus,
    RevocationReason,
    RevocationState,
)
from .profiles import ScepSettings, TrustedRootSettings

DeviceId = NewType("DeviceId", str)
ConfigurationId = NewType("ConfigurationId", str)
ConnectorId = NewType("ConnectorId", str)
RequestContext = NewType("RequestContext", str)

# a connector whose last heartbeat is younger than this is `active` (the real interval is not
# documented, §3.4; the lab connector beats well inside it)
CONNECTOR_ACTIVE_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Actor:
    """Who did an administrative action, for the audit log: a user, an app, or the lab itself."""

    object_id: str
    name: str
    kind: str = "user"  # "user" | "app" | "system"


SYSTEM_ACTOR = Actor(object_id="", name="Microsoft Intune", kind="system")


@dataclass(frozen=True)
class ManagedDevice:
    id: DeviceId
    tenant_id: str
    device_name: str
    platform: Platform
    operating_system: str
    os_version: str | None
    serial_number: str | None
    imei: str | None
    meid: str | None
    wifi_mac_address: str | None
    azure_ad_device_id: str | None
    fully_qualified_domain_name: str | None
    user_id: str | None
    user_principal_name: str | None
    user_display_name: str | None
    email_address: str | None
    management_state: ManagementState
    enrolled_at: dt.datetime
    last_sync_at: dt.datetime
    deleted: bool = False


@dataclass(frozen=True)
class DeviceConfiguration:
    """A trusted-certificate or SCEP profile; `settings` is the kind's validated settings."""

    id: ConfigurationId
    tenant_id: str
    odata_type: str
    display_name: str
    description: str | None
    version: int
    created_at: dt.datetime
    modified_at: dt.datetime
    settings: TrustedRootSettings | ScepSettings

    @property
    def type(self) -> ConfigurationType:
        return CONFIGURATION_TYPES[self.odata_type]

    @property
    def kind(self) -> ConfigurationKind:
        return self.type.kind

    @property
    def platform(self) -> Platform:
        return self.type.platform

    @property
    def scep(self) -> ScepSettings | None:
        return self.settings if isinstance(self.settings, ScepSettings) else None

    @property
    def trusted_root(self) -> TrustedRootSettings | None:
        return self.settings if isinstance(self.settings, TrustedRootSettings) else None


@dataclass(frozen=True)
class AssignmentTarget:
    group_id: str
    target_type: AssignmentTargetType = AssignmentTargetType.INCLUDE

    @property
    def excluded(self) -> bool:
        return self.target_type is AssignmentTargetType.EXCLUDE


@dataclass(frozen=True)
class Assignment:
    id: str
    configuration_id: ConfigurationId
    target: AssignmentTarget


def targets_groups(targets: tuple[AssignmentTarget, ...], group_ids: frozenset[str]) -> bool:
    """Include minus exclude: some included group holds the device (or its user) and no
    excluded one does."""
    included = any(not t.excluded and t.group_id in group_ids for t in targets)
    return included and not any(t.excluded and t.group_id in group_ids for t in targets)


@dataclass(frozen=True)
class NdesConnector:
    id: ConnectorId
    tenant_id: str
    display_name: str
    machine_name: str
    connector_version: str
    enrolled_at: dt.datetime
    last_connection_at: dt.datetime | None

    def state_at(self, now: dt.datetime) -> ConnectorState:
        if self.last_connection_at is None:
            return ConnectorState.NONE
        if now - self.last_connection_at < CONNECTOR_ACTIVE_WINDOW:
            return ConnectorState.ACTIVE
        return ConnectorState.INACTIVE


@dataclass(frozen=True)
class CertificateState:
    """One certificate (or one attempt at one) per device and SCEP profile: the row of Graph's
    managedDeviceCertificateStates. `serial_number` is "" until a certificate is issued."""

    id: str
    tenant_id: str
    device_id: DeviceId
    configuration_id: ConfigurationId
    issuance_state: CertificateIssuanceState
    revoke_status: CertificateRevokeStatus
    serial_number: str
    thumbprint: str | None
    issuer: str | None
    ca_configuration: str | None
    certificate_authority: str | None
    expiration: dt.datetime | None
    issued_at: dt.datetime | None
    key_length: int | None
    enhanced_key_usage: str | None
    error_code: int
    device_display_name: str
    user_display_name: str | None
    device_platform: str
    changed_at: dt.datetime


@dataclass(frozen=True)
class DeviceStatus:
    """One device's status for one profile, as the console shows it."""

    id: str
    tenant_id: str
    device_id: DeviceId
    configuration_id: ConfigurationId
    status: ProfileStatus
    device_display_name: str
    user_principal_name: str | None
    platform: Platform
    reported_at: dt.datetime


@dataclass(frozen=True)
class RevocationRequest:
    request_context: RequestContext
    tenant_id: str
    serial_number: str
    issuer_name: str | None
    ca_configuration: str | None
    state: RevocationState
    reason: RevocationReason
    device_id: DeviceId | None
    certificate_state_id: str | None
    error_code: RevocationErrorCode | None
    error_message: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class ModifiedProperty:
    display_name: str
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class AuditResource:
    display_name: str
    type: str
    resource_id: str
    modified_properties: tuple[ModifiedProperty, ...] = ()


@dataclass(frozen=True)
class AuditEvent:
    id: str
    tenant_id: str
    activity: str  # e.g. "Retire ManagedDevice": Graph's displayName, activity and activityType
    operation_type: str  # Create | Delete | Patch | Action
    category: str  # Device | DeviceConfiguration | Enrollment
    component_name: str
    actor: Actor
    activity_date_time: dt.datetime
    result: str = "Success"
    resources: tuple[AuditResource, ...] = field(default_factory=tuple)
