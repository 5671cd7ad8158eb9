"""The CA database's rows as values, and the port the service reaches the store through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.api.ca import Disposition, RevocationReason

from .crl import CrlInfo


@dataclass(frozen=True)
class NewRequest:
    submitted_at: datetime
    requester: str
    template: str
    transaction_id: str | None
    subject: str
    disposition: Disposition
    hresult: int
    message: str
    csr_der: bytes


@dataclass(frozen=True)
class RequestRecord:
    id: int
    submitted_at: datetime
    resolved_at: datetime | None
    requester: str
    template: str
    transaction_id: str | None
    subject: str
    disposition: Disposition
    hresult: int
    message: str
    csr_der: bytes


@dataclass(frozen=True)
class NewCertificate:
    serial: str  # authority.serial_hex
    subject: str
    not_before: datetime
    not_after: datetime
    der: bytes


@dataclass(frozen=True)
class CertificateRecord:
    serial: str
    request_id: int
    subject: str
    not_before: datetime
    not_after: datetime
    der: bytes
    revoked_at: datetime | None
    reason: RevocationReason | None


@dataclass(frozen=True)
class RequestQuery:
    disposition: Disposition | None = None
    requester: str | None = None  # case-insensitive substring
    template: str | None = None  # case-insensitive, exact
    limit: int = 100
    offset: int = 0


class CaStore(Protocol):
    """The CA database. Methods are atomic; none of them waits on anything but the database."""

    async def add_request(self, new: NewRequest) -> RequestRecord:
        """Record a request that issued nothing (failed, denied or pending)."""
        ...

    async def add_issued(
        self, new: NewRequest, cert: NewCertificate
    ) -> tuple[RequestRecord, CertificateRecord]:
        """Record an issued request and its certificate together; `SerialTaken` on a clash."""
        ...

    async def resolve_pending(
        self,
        request_id: int,
        *,
        disposition: Disposition,
        hresult: int,
        message: str,
        at: datetime,
        cert: NewCertificate | None,
    ) -> RequestRecord | None:
        """Settle a pending request (with its certificate if issued); None if it is no longer
        pending. `SerialTaken` on a serial clash."""
        ...

    async def get_request(self, request_id: int) -> RequestRecord | None: ...

    async def list_requests(self, query: RequestQuery) -> list[RequestRecord]: ...

    async def certificate_for_request(self, request_id: int) -> CertificateRecord | None: ...

    async def get_certificate(self, serial: str) -> CertificateRecord | None: ...

    async def set_revocation(
        self,
        serial: str,
        *,
        expected: RevocationReason | None,
        reason: RevocationReason | None,
        at: datetime | None,
        message: str,
    ) -> bool:
        """Set (or clear, with reason None) a certificate's revocation, only if its current
        reason is `expected` (None: not revoked); the request's disposition follows."""
        ...

    async def revoked_certificates(self, now: datetime) -> list[CertificateRecord]:
        """Revoked certificates that have not expired by `now`."""
        ...

    async def get_crl(self, ca: str) -> CrlInfo | None: ...

    async def save_crl(self, ca: str, crl: CrlInfo, *, previous: int | None) -> bool:
        """Store `crl` only if the stored one is still number `previous` (None: none yet)."""
        ...

    async def ping(self) -> str:
        """The database dialect's name, after a round trip."""
        ...
