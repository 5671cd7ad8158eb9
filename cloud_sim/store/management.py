"""Tables of the cloud's management area: devices, device configurations (trusted-certificate and
SCEP profiles) and their assignments, NDES connectors, certificate states and per-device profile
statuses (the reports), the revocation queue and the audit log.

Every row carries its tenant; every query of `cloud_sim.management` filters on it. Ids are
GUID strings, as Graph's. Profile settings are kept as their Graph JSON (validated on the way in
by `cloud_sim.management.profiles`). Types are portable: SQLite by default, PostgreSQL by URL.
A certificate state's serial number is "" (not NULL) until issuance, so that the unique key
(device, profile, serial) holds on both databases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

_ID = String(64)
_PAIR_ID = String(160)  # Graph's "{profileId}_{otherId}" ids


class ManagedDeviceRow(Base):
    __tablename__ = "managed_devices"
    __table_args__ = (Index("ix_managed_devices_tenant_name", "tenant_id", "device_name"),)

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(_ID, index=True)
    device_name: Mapped[str] = mapped_column(String(255))
    platform: Mapped[str] = mapped_column(String(16))
    operating_system: Mapped[str] = mapped_column(String(32))
    os_version: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(128))
    imei: Mapped[str | None] = mapped_column(String(64))
    meid: Mapped[str | None] = mapped_column(String(64))
    wifi_mac_address: Mapped[str | None] = mapped_column(String(64))
    azure_ad_device_id: Mapped[str | None] = mapped_column(String(64))
    fully_qualified_domain_name: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    user_principal_name: Mapped[str | None] = mapped_column(String(255))
    user_display_name: Mapped[str | None] = mapped_column(String(255))
    email_address: Mapped[str | None] = mapped_column(String(255))
    management_state: Mapped[str] = mapped_column(String(32))
    enrolled_at: Mapped[dt.datetime]
    last_sync_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]


class DeviceConfigurationRow(Base):
    __tablename__ = "device_configurations"

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(_ID, index=True)
    odata_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    platform: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int]
    settings: Mapped[dict[str, object]] = mapped_column(JSON)
    # a SCEP profile's trusted root profile (kept out of the JSON so that it can be queried)
    root_certificate_id: Mapped[str | None] = mapped_column(_ID, index=True)
    created_at: Mapped[dt.datetime]
    modified_at: Mapped[dt.datetime]


class ConfigurationAssignmentRow(Base):
    __tablename__ = "configuration_assignments"
    __table_args__ = (UniqueConstraint("configuration_id", "group_id", "target_type"),)

    id: Mapped[str] = mapped_column(_PAIR_ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(_ID, index=True)
    configuration_id: Mapped[str] = mapped_column(
        ForeignKey("device_configurations.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(64))


class NdesConnectorRow(Base):
    __tablename__ = "ndes_connectors"

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(_ID, index=True)
    display_name: Mapped[str] = mapped_column(String(255))
    machine_name: Mapped[str] = mapped_column(String(255))
    connector_version: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[dt.datetime]
    last_connection_at: Mapped[dt.datetime | None]


class CertificateStateRow(Base):
    __tablename__ = "certificate_states"
    __table_args__ = (UniqueConstraint("device_id", "configuration_id", "serial_number"),)

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(_ID, index=True)
    # no foreign keys: the report outlives a deleted device or profile, and so must the
    # revocations it feeds
    device_id: Mapped[str] = mapped_column(_ID, index=True)
    configuration_id: Mapped[str] = mapped_column(_ID, index=True)
    issuance_state: Mapped[str] = mapped_column(String(64))
    revoke_status: Mapped[str] = mapped_column(String(16))
    serial_number: Mapped[str] = mapped_column(String(128), index=True)
    thumbprint: Mapped[str | None] = mapped_column(String(128))
    issuer: Mapped[str | None] = mapped_column(Text)
    ca_configuration: Mapped[str | None] = mapped_column(String(512))
    certificate_authority: Mapped[str | None] = mapped_column(String(512))
    expiration: Mapped[dt.datetime | None]
    issued_at: Mapped[dt.datetime | None]
    key_length: Mapped[int | None]
    enhanced_key_usage: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[int]
    device_display_name: Mapped[str] = mapped_column(String(255))
    user_display_name: Mapped[str | None] = mapped_column(String(255))
    device_platform: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime]


class DeviceStatusRow(Base):
    __tablename__ = "device_configuration_statuses"
    __table_args__ = (UniqueConstraint("device_id", "configuration_id"),)

    id: Mapped[str] = mapped_column(_PAIR_ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(_ID, index=True)
    device_id: Mapped[str] = mapped_column(_ID)
    configuration_id: Mapped[str] = mapped_column(_ID, index=True)
    status: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[dt.datetime]


class RevocationRequestRow(Base):
    __tablename__ = "revocation_requests"
    __table_args__ = (Index("ix_revocation_requests_queue", "tenant_id", "state", "created_at"),)

    # the queue's order (the lab clock may stand still, so created_at alone cannot give it)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_context: Mapped[str] = mapped_column(_ID, unique=True)
    tenant_id: Mapped[str] = mapped_column(_ID)
    serial_number: Mapped[str] = mapped_column(String(128))
    issuer_name: Mapped[str | None] = mapped_column(Text)
    ca_configuration: Mapped[str | None] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(_ID)
    certificate_state_id: Mapped[str | None] = mapped_column(_ID, index=True)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_time", "tenant_id", "activity_date_time"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)  # the log's order
    id: Mapped[str] = mapped_column(_ID, unique=True)
    tenant_id: Mapped[str] = mapped_column(_ID)
    activity: Mapped[str] = mapped_column(String(255))
    operation_type: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    component_name: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(32))
    actor: Mapped[dict[str, object]] = mapped_column(JSON)
    resources: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    activity_date_time: Mapped[dt.datetime]
