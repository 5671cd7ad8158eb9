"""`SqlCaStore`: the `CaStore` port on the tables of `tables`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.api.ca import Disposition, RevocationReason

from ..crl import CrlInfo
from ..errors import SerialTaken
from ..records import (
    CertificateRecord,
    NewCertificate,
    NewRequest,
    RequestQuery,
    RequestRecord,
)
from .tables import certificates, crls, requests


class SqlCaStore:
    """`CaStore` on an SQLAlchemy async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_request(self, new: NewRequest) -> RequestRecord:
        async with self._engine.begin() as conn:
            request_id = await self._insert_request(conn, new)
            return await self._request(conn, request_id)

    async def add_issued(
        self, new: NewRequest, cert: NewCertificate
    ) -> tuple[RequestRecord, CertificateRecord]:
        try:
            async with self._engine.begin() as conn:
                request_id = await self._insert_request(conn, new)
                await self._insert_certificate(conn, request_id, cert)
                record = await self._request(conn, request_id)
                issued = await self._certificate(conn, certificates.c.request_id == request_id)
        except IntegrityError as exc:
            await self._raise_if_serial_taken(cert.serial, exc)
            raise
        if issued is None:  # pragma: no cover - inserted in the same transaction
            raise LookupError(f"certificate {cert.serial} vanished after its insert")
        return record, issued

    async def resolve_pending(
        self,
        request_id: int,
        *,
        disposition: Disposition,
        hresult: int,
        message: str,
        at: dt.datetime,
        cert: NewCertificate | None,
    ) -> RequestRecord | None:
        values = {
            "disposition": int(disposition),
            "hresult": hresult,
            "message": message,
            "resolved_at": at,
        }
        pending = (requests.c.id == request_id) & (requests.c.disposition == Disposition.PENDING)
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(update(requests).where(pending).values(**values))
                if result.rowcount != 1:
                    return None
                if cert is not None:
                    await self._insert_certificate(conn, request_id, cert)
                return await self._request(conn, request_id)
        except IntegrityError as exc:
            if cert is not None:
                await self._raise_if_serial_taken(cert.serial, exc)
            raise

    async def get_request(self, request_id: int) -> RequestRecord | None:
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(requests).where(requests.c.id == request_id))).first()
        return None if row is None else _request_record(row)

    async def list_requests(self, query: RequestQuery) -> list[RequestRecord]:
        statement = select(requests).order_by(requests.c.id)
        if query.disposition is not None:
            statement = statement.where(requests.c.disposition == int(query.disposition))
        if query.requester:
            needle = query.requester.lower()
            statement = statement.where(
                func.lower(requests.c.requester).contains(needle, autoescape=True)
            )
        if query.template:
            statement = statement.where(
                func.lower(requests.c.template) == query.template.strip().lower()
            )
        statement = statement.limit(query.limit).offset(query.offset)
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return [_request_record(row) for row in rows]

    async def certificate_for_request(self, request_id: int) -> CertificateRecord | None:
        async with self._engine.begin() as conn:
            return await self._certificate(conn, certificates.c.request_id == request_id)

    async def get_certificate(self, serial: str) -> CertificateRecord | None:
        async with self._engine.begin() as conn:
            return await self._certificate(conn, certificates.c.serial == serial)

    async def set_revocation(
        self,
        serial: str,
        *,
        expected: RevocationReason | None,
        reason: RevocationReason | None,
        at: dt.datetime | None,
        message: str,
    ) -> bool:
        current = (
            certificates.c.reason.is_(None)
            if expected is None
            else certificates.c.reason == int(expected)
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(certificates)
                .where((certificates.c.serial == serial) & current)
                .values(revoked_at=at, reason=None if reason is None else int(reason))
                .returning(certificates.c.request_id)
            )
            request_id = result.scalar_one_or_none()
            if request_id is None:
                return False
            disposition = Disposition.ISSUED if reason is None else Disposition.REVOKED
            await conn.execute(
                update(requests)
                .where(requests.c.id == request_id)
                .values(disposition=int(disposition), message=message)
            )
        return True

    async def revoked_certificates(self, now: dt.datetime) -> list[CertificateRecord]:
        statement = (
            select(certificates)
            .where(certificates.c.revoked_at.is_not(None) & (certificates.c.not_after >= now))
            .order_by(certificates.c.id)
        )
        async with self._engine.begin() as conn:
            rows = (await conn.execute(statement)).all()
        return [_certificate_record(row) for row in rows]

    async def get_crl(self, ca: str) -> CrlInfo | None:
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(crls).where(crls.c.ca == ca))).first()
        if row is None:
            return None
        return CrlInfo(row.number, row.this_update, row.next_update, row.der)

    async def save_crl(self, ca: str, crl: CrlInfo, *, previous: int | None) -> bool:
        values = {
            "number": crl.number,
            "this_update": crl.this_update,
            "next_update": crl.next_update,
            "der": crl.der,
        }
        try:
            async with self._engine.begin() as conn:
                if previous is None:
                    await conn.execute(insert(crls).values(ca=ca, **values))
                    return True
                current = (crls.c.ca == ca) & (crls.c.number == previous)
                result = await conn.execute(update(crls).where(current).values(**values))
                return result.rowcount == 1
        except IntegrityError:
            return False  # another writer made the first CRL

    async def ping(self) -> str:
        async with self._engine.connect() as conn:
            await conn.execute(select(1))
        return self._engine.dialect.name

    async def _insert_request(self, conn: AsyncConnection, new: NewRequest) -> int:
        result = await conn.execute(
            insert(requests)
            .values(
                submitted_at=new.submitted_at,
                resolved_at=None if new.disposition == Disposition.PENDING else new.submitted_at,
                requester=new.requester,
                template=new.template,
                transaction_id=new.transaction_id,
                subject=new.subject,
                disposition=int(new.disposition),
                hresult=new.hresult,
                message=new.message,
                csr=new.csr_der,
            )
            .returning(requests.c.id)
        )
        return int(result.scalar_one())

    async def _insert_certificate(
        self, conn: AsyncConnection, request_id: int, cert: NewCertificate
    ) -> None:
        await conn.execute(
            insert(certificates).values(
                serial=cert.serial,
                request_id=request_id,
                subject=cert.subject,
                not_before=cert.not_before,
                not_after=cert.not_after,
                der=cert.der,
            )
        )

    async def _request(self, conn: AsyncConnection, request_id: int) -> RequestRecord:
        row = (await conn.execute(select(requests).where(requests.c.id == request_id))).one()
        return _request_record(row)

    async def _certificate(self, conn: AsyncConnection, where: Any) -> CertificateRecord | None:
        row = (await conn.execute(select(certificates).where(where))).first()
        return None if row is None else _certificate_record(row)

    async def _raise_if_serial_taken(self, serial: str, exc: IntegrityError) -> None:
        if await self.get_certificate(serial) is not None:
            raise SerialTaken(f"serial {serial} is already in the CA database") from exc


def _request_record(row: Row[Any]) -> RequestRecord:
    return RequestRecord(
        id=row.id,
        submitted_at=row.submitted_at,
        resolved_at=row.resolved_at,
        requester=row.requester,
        template=row.template,
        transaction_id=row.transaction_id,
        subject=row.subject,
        disposition=Disposition(row.disposition),
        hresult=row.hresult,
        message=row.message,
        csr_der=row.csr,
    )


def _certificate_record(row: Row[Any]) -> CertificateRecord:
    return CertificateRecord(
        serial=row.serial,
        request_id=row.request_id,
        subject=row.subject,
        not_before=row.not_before,
        not_after=row.not_after,
        der=row.der,
        revoked_at=row.revoked_at,
        reason=None if row.reason is None else RevocationReason(row.reason),
    )
