"""The cloud's management area: managed devices, trusted-certificate and SCEP profiles and their
assignments, NDES connectors, the reports (certificate states, per-device profile statuses), the
revocation queue and the audit log — everything an Intune administrator sees under
deviceManagement. `cloud_sim.routes.admin` serves it as Graph; the rest of the cloud (device
check-in, validation and notifications, the connector API) calls the service functions below.

Layout: `enums`, `errors`, `profiles` (settings values), `records`, `odata` are pure (no web
framework, HTTP client or database); `devices`, `configurations`, `targeting`, `connectors`,
`reports`, `revocations`, `audit` are the services (SQLAlchemy, on the request's session:
they flush, the caller commits); `graph` holds the wire shapes. Every service takes the tenant
id and never shows another tenant's objects (NotFound instead), and takes `now` from the
caller's injected clock.
"""

from __future__ import annotations

from .audit import get_audit_event, list_audit_events, record_audit
from .configurations import (
    create_configuration,
    delete_configuration,
    get_configuration,
    list_configurations,
    update_configuration,
)
from .connectors import (
    delete_connector,
    find_connector,
    get_connector,
    list_connectors,
    record_heartbeat,
    register_connector,
)
from .devices import (
    NewDevice,
    create_device,
    delete_device,
    devices_by_id,
    get_device,
    list_devices,
    record_sync,
    retire_device,
    set_management_state,
    wipe_device,
)
from .errors import InvalidRequest, ManagementError, NotFound
from .profiles import ScepSettings, TrustedRootSettings
from .records import (
    CONNECTOR_ACTIVE_WINDOW,
    SYSTEM_ACTOR,
    Actor,
    Assignment,
    AssignmentTarget,
    AuditEvent,
    CertificateState,
    DeviceConfiguration,
    DeviceStatus,
    ManagedDevice,
    NdesConnector,
    RevocationRequest,
)
from .reports import (
    certificate_states_for_device,
    certificate_states_for_profile,
    record_certificate_removal,
    record_certificate_state,
)
from .revocations import (
    list_revocations,
    pending_revocations,
    queue_revocation,
    record_revocation_result,
    revoke_device_certificates,
    revoke_profile_certificates,
)
from .statuses import device_statuses_for_profile, record_device_status
from .targeting import (
    GroupLookup,
    assign_configuration,
    is_targeted,
    list_assignments,
    profiles_for_device,
    removed_profiles,
    revoke_untargeted_certificates,
)

__all__ = [
    "CONNECTOR_ACTIVE_WINDOW",
    "SYSTEM_ACTOR",
    "Actor",
    "Assignment",
    "AssignmentTarget",
    "AuditEvent",
    "CertificateState",
    "DeviceConfiguration",
    "DeviceStatus",
    "GroupLookup",
    "InvalidRequest",
    "ManagedDevice",
    "ManagementError",
    "NdesConnector",
    "NewDevice",
    "NotFound",
    "RevocationRequest",
    "ScepSettings",
    "TrustedRootSettings",
    "assign_configuration",
    "certificate_states_for_device",
    "certificate_states_for_profile",
    "create_configuration",
    "create_device",
    "delete_configuration",
    "delete_connector",
    "delete_device",
    "device_statuses_for_profile",
    "devices_by_id",
    "find_connector",
    "get_audit_event",
    "get_configuration",
    "get_connector",
    "get_device",
    "is_targeted",
    "list_assignments",
    "list_audit_events",
    "list_configurations",
    "list_connectors",
    "list_devices",
    "list_revocations",
    "pending_revocations",
    "profiles_for_device",
    "queue_revocation",
    "record_audit",
    "record_certificate_removal",
    "record_certificate_state",
    "record_device_status",
    "record_heartbeat",
    "record_revocation_result",
    "record_sync",
    "register_connector",
    "removed_profiles",
    "retire_device",
    "revoke_device_certificates",
    "revoke_profile_certificates",
    "revoke_untargeted_certificates",
    "set_management_state",
    "update_configuration",
    "wipe_device",
]
