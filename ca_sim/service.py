"""The CA service: submit, approve, deny, revoke, and publish CRLs, over a `CaStore`.

Transport-free: routes call it with bytes and names and get domain values back. Every submission
that names a requester is recorded, whatever its outcome, as AD CS records failed and denied
requests next to issued ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography import x509

from shared.api.ca import Disposition, RevocationReason
from shared.clock import Clock
from shared.pki import CsrInfo, inspect_csr, new_serial

from .authority import Authority, certificate_values, issue_for_request, parse_serial, serial_hex
from .errors import BadRequestStatus, CaError, NotFound, SerialTaken
from .faults import CaFaultBoard
from .hresult import Hresult
from .outcome import Admission, Refusal
from .policy import decide
from .publisher import CaName, CrlPublisher
from .records import (
    CaStore,
    CertificateRecord,
    NewCertificate,
    NewRequest,
    RequestQuery,
    RequestRecord,
)
from .submission import open_request
from .templates import Template, find_template

logger = logging.getLogger(__name__)

SERIAL_ATTEMPTS = 8
PENDING_MESSAGE = "Taken Under Submission"  # what certreq prints for a pending request
MAX_REQUESTER = 512  # the requests.requester column


@dataclass(frozen=True)
class RequestState:
    record: RequestRecord
    certificate: CertificateRecord | None


@dataclass(frozen=True)
class RevokeOutcome:
    serial: str
    revoked: bool
    hresult: Hresult
    message: str


class CaService:
    def __init__(
        self,
        store: CaStore,
        authority: Authority,
        clock: Clock,
        templates: Mapping[str, Template],
        crls: CrlPublisher,
        *,
        serials: Callable[[], int] = new_serial,
        faults: CaFaultBoard | None = None,
    ) -> None:
        self.store = store
        self.authority = authority
        self.templates = templates
        self.crls = crls
        self._clock = clock
        self._serials = serials
        self._faults = faults  # lab only: a refusal armed by the lab overrides the policy

    async def submit(
        self, der_request: bytes, template_name: str, transaction_id: str | None, caller: str | None
    ) -> RequestState:
        """Open, judge and record one request. `caller`: the admin identity, if the token was
        presented. Raises `Unauthenticated` (nothing recorded) when no requester can be named."""
        now = self._clock.now()
        opened = open_request(der_request, caller=caller)
        template = find_template(self.templates, template_name)
        agent_revoked = False
        if opened.agent is not None:
            known = await self.store.get_certificate(serial_hex(opened.agent.serial_number))
            agent_revoked = known is not None and known.revoked_at is not None
        verdict = decide(
            opened,
            template,
            template_name=template_name,
            known_templates=tuple(t.name for t in self.templates.values()),
            token=caller is not None,
            agent_revoked=agent_revoked,
            issuing_cert=self.authority.issuing_cert,
            now=now,
        )
        if self._faults is not None and not isinstance(verdict, Refusal):
            verdict = self._faults.refusal() or verdict
        new = NewRequest(
            submitted_at=now,
            requester=opened.requester[:MAX_REQUESTER],
            template=template.name if template is not None else template_name,
            transaction_id=transaction_id,
            subject=opened.subject,
            disposition=Disposition.PENDING,
            hresult=Hresult.S_OK,
            message=PENDING_MESSAGE,
            csr_der=opened.csr_der,
        )
        if isinstance(verdict, Refusal):
            record = await self.store.add_request(_refused(new, verdict))
            state = RequestState(record, None)
        elif verdict is Admission.PENDING:
            state = RequestState(await self.store.add_request(new), None)
        elif template is not None and opened.csr is not None:
            state = await self._issue_new(new, opened.csr, template)
        else:  # pragma: no cover - decide() admits only requests with a template and a CSR
            raise CaError("admitted a request without a template or a certification request")
        _log(state, transaction_id)
        return state

    async def get(self, request_id: int) -> RequestState:
        record = await self.store.get_request(request_id)
        if record is None:
            raise NotFound(f"no request {request_id} in the CA database")
        return RequestState(record, await self.store.certificate_for_request(request_id))

    async def search(self, query: RequestQuery) -> list[RequestState]:
        records = await self.store.list_requests(query)
        return [RequestState(r, await self.store.certificate_for_request(r.id)) for r in records]

    async def approve(self, request_id: int, *, by: str) -> RequestState:
        """Issue a pending request now (AD CS: Resubmit after a certificate manager's review)."""
        record = await self._pending(request_id)
        now = self._clock.now()
        template = find_template(self.templates, record.template)
        if template is None:
            raise BadRequestStatus(f"request {request_id}: template {record.template} is gone")
        csr = inspect_csr(record.csr_der)
        for _ in range(SERIAL_ATTEMPTS):
            cert = self._new_certificate(csr, template, record.requester, now)
            try:
                settled = await self.store.resolve_pending(
                    request_id,
                    disposition=Disposition.ISSUED,
                    hresult=Hresult.S_OK,
                    message=f"Issued (approved by {by})",
                    at=now,
                    cert=cert,
                )
            except SerialTaken:
                logger.warning("serial clash on request %s; drawing another", request_id)
                continue
            if settled is None:
                raise BadRequestStatus(f"request {request_id} was settled meanwhile")
            state = await self.get(request_id)
            _log(state, record.transaction_id)
            return state
        raise CaError(f"no free serial number after {SERIAL_ATTEMPTS} attempts")

    async def deny(self, request_id: int, *, by: str) -> RequestState:
        await self._pending(request_id)
        code = Hresult.CERTSRV_E_ADMIN_DENIED_REQUEST
        settled = await self.store.resolve_pending(
            request_id,
            disposition=Disposition.DENIED,
            hresult=code,
            message=f"Denied by {by} {code.hex}: the certificate manager denied the request",
            at=self._clock.now(),
            cert=None,
        )
        if settled is None:
            raise BadRequestStatus(f"request {request_id} was settled meanwhile")
        return RequestState(settled, None)

    async def revoke(self, serial_text: str, reason: RevocationReason, *, by: str) -> RevokeOutcome:
        """Revoke, and republish the issuing CA's CRL at once. A certificate on hold may be
        revoked for good (it stays revoked from when it was held) or, with removeFromCRL,
        released. Refusals come back as an outcome with an HRESULT, not as exceptions."""
        serial = parse_serial(serial_text)
        cert = await self.store.get_certificate(serial)
        if cert is None:
            text = f"no certificate with serial number {serial} was issued by this CA"
            return RevokeOutcome(serial, False, Hresult.ERROR_FILE_NOT_FOUND, text)
        if reason == RevocationReason.REMOVE_FROM_CRL:
            return await self._release(cert, by)
        hold = RevocationReason.CERTIFICATE_HOLD
        on_hold = cert.reason == hold and reason != hold
        at = cert.revoked_at if on_hold and cert.revoked_at else self._clock.now()
        changed = await self.store.set_revocation(
            serial,
            expected=hold if on_hold else None,
            reason=reason,
            at=at,
            message=f"Revoked by {by}: {reason.name}",
        )
        if not changed:
            current = await self.store.get_certificate(serial) or cert
            since = f"{current.revoked_at:%Y-%m-%d %H:%M:%S}Z" if current.revoked_at else "?"
            why = current.reason.name if current.reason is not None else "?"
            text = f"certificate {serial} is already revoked ({why}, since {since})"
            return RevokeOutcome(serial, False, Hresult.CRYPT_E_REVOKED, text)
        await self.crls.publish(CaName.ISSUING, force=True)
        logger.info("revoked %s (%s) by %s", serial, reason.name, by)
        return RevokeOutcome(serial, True, Hresult.S_OK, f"certificate {serial} revoked")

    async def _release(self, cert: CertificateRecord, by: str) -> RevokeOutcome:
        hold = RevocationReason.CERTIFICATE_HOLD
        released = cert.reason == hold and await self.store.set_revocation(
            cert.serial, expected=hold, reason=None, at=None, message=f"Issued (released by {by})"
        )
        if not released:
            code = Hresult.CERTSRV_E_BAD_REQUESTSTATUS
            text = f"removeFromCRL releases a certificate on hold; {cert.serial} is not on hold"
            return RevokeOutcome(cert.serial, False, code, text)
        await self.crls.publish(CaName.ISSUING, force=True)
        logger.info("released %s from hold by %s", cert.serial, by)
        return RevokeOutcome(cert.serial, False, Hresult.S_OK, f"{cert.serial} released from hold")

    async def adopt(self, cert: x509.Certificate, template: str, *, origin: str) -> bool:
        """Record a certificate this CA's key signed outside the service (the lab PKI build's
        NDES RA certificates), so that it can be revoked. False if it is already known."""
        serial = serial_hex(cert.serial_number)
        if await self.store.get_certificate(serial) is not None:
            return False
        now = self._clock.now()
        new = NewRequest(
            submitted_at=now,
            requester=origin,
            template=template,
            transaction_id=None,
            subject=cert.subject.rfc4514_string(),
            disposition=Disposition.ISSUED,
            hresult=Hresult.S_OK,
            message=f"Issued (imported from {origin})",
            csr_der=b"",
        )
        try:
            await self.store.add_issued(new, certificate_values(cert))
        except SerialTaken:
            return False  # another process adopted it first
        return True

    async def _pending(self, request_id: int) -> RequestRecord:
        record = (await self.get(request_id)).record
        if record.disposition != Disposition.PENDING:
            raise BadRequestStatus(
                f"request {request_id} is {record.disposition.name}, not PENDING: the request's "
                "current status does not allow this operation"
            )
        return record

    async def _issue_new(self, new: NewRequest, csr: CsrInfo, template: Template) -> RequestState:
        values = replace(new, disposition=Disposition.ISSUED, message="Issued")
        for _ in range(SERIAL_ATTEMPTS):
            cert = self._new_certificate(csr, template, new.requester, new.submitted_at)
            try:
                record, issued = await self.store.add_issued(values, cert)
            except SerialTaken:
                logger.warning("serial clash for %s; drawing another", new.requester)
                continue
            return RequestState(record, issued)
        raise CaError(f"no free serial number after {SERIAL_ATTEMPTS} attempts")

    def _new_certificate(
        self, csr: CsrInfo, template: Template, requester: str, now: datetime
    ) -> NewCertificate:
        cert = issue_for_request(
            self.authority, csr, template, requester=requester, now=now, serial=self._serials()
        )
        return certificate_values(cert)


def _refused(new: NewRequest, refusal: Refusal) -> NewRequest:
    return replace(
        new, disposition=refusal.disposition, hresult=refusal.hresult, message=refusal.message
    )


def _log(state: RequestState, transaction_id: str | None) -> None:
    record = state.record
    logger.info(
        "request %d (%s, template %s, transaction %s): %s %s",
        record.id,
        record.requester,
        record.template,
        transaction_id or "-",
        record.disposition.name,
        f"0x{record.hresult:08X}",
    )
