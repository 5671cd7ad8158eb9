"""Tables of the connector and device areas: the current identity certificate of each connector
and managed device, and SCEP transactions (validate → success/failure notification, idempotent
by tenant and transaction ID)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ClientIdentityRow(Base):
    """The current identity certificate of a connector (Connector CA) or a managed device (MDM
    Device CA): issued at sign-in or enrolment, replaced on renewal. The one it replaced stays
    accepted until the holder first uses the new one (an answer to a renewal can be lost on the
    way: the holder must not be locked out by it), or until it expires."""

    __tablename__ = "client_identities"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # connector | device
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    serial_number: Mapped[str] = mapped_column(String(64))
    thumbprint: Mapped[str] = mapped_column(String(64))
    not_after: Mapped[dt.datetime]
    issued_at: Mapped[dt.datetime]
    previous_serial_number: Mapped[str | None] = mapped_column(String(64), default=None)


class ScepTransactionRow(Base):
    """One SCEP request as the cloud saw it: validated (with its verdict), then reported. A
    request is its transaction ID AND its CSR: clients that derive the transaction ID from the
    public key (micromdm's scepclient, early SCEP drafts) reuse it when they renew with the same
    key, and that renewal is a new request."""

    __tablename__ = "scep_transactions"
    __table_args__ = (UniqueConstraint("tenant_id", "transaction_id", "csr_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str] = mapped_column(String(200))
    caller: Mapped[str] = mapped_column(String(200))  # connector id or app id
    challenge_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), default=None)
    profile_id: Mapped[str | None] = mapped_column(String(64), default=None)
    validation_code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))  # validated | rejected | issued | failed
    hresult: Mapped[int | None] = mapped_column(default=None)
    error_description: Mapped[str | None] = mapped_column(Text, default=None)
    certificate_serial: Mapped[str | None] = mapped_column(String(64), default=None)
    certificate_thumbprint: Mapped[str | None] = mapped_column(String(64), default=None)
    csr_sha256: Mapped[str] = mapped_column(String(64))
    validated_at: Mapped[dt.datetime]
    reported_at: Mapped[dt.datetime | None] = mapped_column(default=None)
