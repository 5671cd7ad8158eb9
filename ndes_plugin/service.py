"""What mscep.dll does with a PKIOperation, free of HTTP: open, check, ask the policy module,
submit to the CA as enrolment agent, answer with a signed CertRep.

Every SCEP-level refusal is a CertRep FAILURE in NDES's shape (failInfo plus the HRESULT
attribute), never an exception: `pki_operation` raises only `MalformedRequest` (no transaction
ID to answer to: HTTP 400) and `RaUnavailable` (RA certificates out of date: HTTP 500, as NDES).
A request refused before the policy module said yes changes nothing; once it said yes, the module
is always told how the request ended (`notify`), so it can release or spend what it reserved.

failInfo and HRESULT choices (ndes-scep.md §2):
- request signature does not verify → badMessageCheck, NTE_BAD_SIGNATURE
- not encrypted to our RA encryption certificate → badMessageCheck, NTE_BAD_DATA (Event 18)
- digest, cipher or key transport we do not do → badAlg, NTE_BAD_ALGID
- challenge missing, unknown, expired, used → badMessageCheck with the policy's HRESULT (Event 29)
- renewal signer out of date → badTime, CERT_E_EXPIRED; not from our CA → badMessageCheck
- CA failed or denied → badRequest with the CA's HRESULT (0x80094800: unknown template, Event 31)
- CA unreachable → badRequest, RPC_S_SERVER_UNAVAILABLE
- CertPoll for an unknown transaction → badCertId; GetCert, GetCRL → badRequest, E_INVALIDARG
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared import scep, trace, trace_fields
from shared.api.ca import Disposition
from shared.clock import Clock
from shared.pki import CsrError, inspect_csr
from shared.scep import ContentCipher, Digest, FailInfo, MessageType, PkiRequest, ReplyContext
from shared.scep.signed import sign

from .ca import CaResult, CertificateAuthority
from .errors import CaError, MalformedRequest, PolicyError, PolicyRejected, RaUnavailable
from .hresult import HResult, codec_hresult
from .logs import get_logger, transaction
from .pending import PendingStore, PendingTransaction
from .policy import PolicyModule, X509SCEPDisposition
from .ra import RaCredentials, in_date, issued_by
from .templates import TemplateMap, select_template

log = get_logger(__name__)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class ServiceConfig:
    templates: TemplateMap
    reply_ciphers: tuple[ContentCipher, ...]
    failure_text: bool = False
    """Add failInfoText with the reason (NDES never does; handy in a lab)."""


class ScepService:
    def __init__(
        self,
        *,
        ra: RaCredentials,
        ca: CertificateAuthority,
        policy: PolicyModule,
        pending: PendingStore,
        clock: Clock,
        config: ServiceConfig,
        next_ca: tuple[x509.Certificate, ...] = (),
    ) -> None:
        self._ra = ra
        self._ca = ca
        self._policy = policy
        self._pending = pending
        self._clock = clock
        self._config = config
        self._next_ca = next_ca

    @property
    def ra(self) -> RaCredentials:
        return self._ra

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def templates(self) -> TemplateMap:
        return self._config.templates

    def use_templates(self, templates: TemplateMap) -> None:
        """The MSCEP template values from now on (NDES reads them from the registry when IIS
        starts; the lab changes them at run time)."""
        self._config = replace(self._config, templates=templates)

    def check_ra(self) -> None:
        if self._ra.expired(self._clock.now()):
            raise RaUnavailable("the RA certificates are out of date: restart NDES to renew them")

    def ca_ra_certs(self) -> bytes:
        return scep.build_certs_only(self._ra.get_ca_cert_set)

    def next_ca_cert(self) -> bytes | None:
        if not self._next_ca:
            return None
        return scep.build_next_ca_cert(
            self._next_ca, ca_cert=self._ra.sign_cert, ca_key=self._ra.sign_key
        )

    def admin_challenge(self) -> str:
        """A password for the admin page. Raises `PasswordCacheFull`, `ChallengeNotSupported`."""
        return self._policy.generate_challenge(self._config.templates.general_purpose, "")

    async def pki_operation(self, der: bytes) -> bytes:
        self.check_ra()
        try:
            request = scep.open_request(
                der, certificate=self._ra.encrypt_cert, key=self._ra.encrypt_key
            )
        except scep.ScepError as exc:
            if exc.context is None:
                raise MalformedRequest(f"cannot answer this PKIOperation: {exc}") from exc
            with transaction(exc.context.transaction_id):
                hresult = codec_hresult(exc)
                return self._fail(exc.context, exc.fail_info, hresult, str(exc))
        message = request.message
        trace.annotate(
            transaction_id=message.transaction_id,
            message_type=trace_fields.SCEP_NAMES[message.message_type],
            cms=trace_fields.pki_request(request),
        )
        with transaction(message.transaction_id):
            log.info(
                "%s from signer %s (%s)",
                message.message_type.name,
                message.signer.subject.rfc4514_string(),
                request.cipher.name,
            )
            if message.message_type in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ):
                return await self._enrol(request)
            if message.message_type is MessageType.CERT_POLL:
                return await self._poll(request)
            return self._fail(
                message.reply_context,
                FailInfo.BAD_REQUEST,
                HResult.E_INVALIDARG,
                f"{message.message_type.name} is not supported by NDES",
            )

    async def _enrol(self, request: PkiRequest) -> bytes:
        message, csr_der = request.message, request.csr_der
        ctx, tid = message.reply_context, message.transaction_id
        try:
            info = inspect_csr(csr_der)
        except CsrError as exc:
            return self._fail(ctx, FailInfo.BAD_REQUEST, HResult.E_INVALIDARG, str(exc))
        trace.annotate(csr=trace_fields.csr(info))
        if not info.signature_valid:
            return self._fail(
                ctx, FailInfo.BAD_MESSAGE_CHECK, HResult.NTE_BAD_SIGNATURE, "bad CSR signature"
            )
        renewal_signer: bytes | None = None
        if issued_by(message.signer, self._ra.chain.issuing):
            if not in_date(message.signer, self._clock.now()):
                return self._fail(
                    ctx, FailInfo.BAD_TIME, HResult.CERT_E_EXPIRED, "renewal signer out of date"
                )
            renewal_signer = _der(message.signer)
        elif message.message_type is MessageType.RENEWAL_REQ:
            return self._fail(
                ctx,
                FailInfo.BAD_MESSAGE_CHECK,
                HResult.CERT_E_UNTRUSTEDROOT,
                "a RenewalReq must be signed by a certificate this CA issued",
            )
        known = self._pending.get(tid)
        if known is not None and known.csr_der == csr_der:
            if known.requester_key != _spki(message.signer):
                return self._fail(
                    ctx, FailInfo.BAD_MESSAGE_CHECK, HResult.NTE_BAD_SIGNATURE, "not the requester"
                )
            log.info("re-sent request for pending CA request %d", known.request_id)
            return await self._resolve(ctx, known, request.cipher)

        template = select_template(info.key_usage, self._config.templates)
        try:
            verified = await self._policy.verify_request(csr_der, renewal_signer, template, tid)
        except PolicyRejected as exc:
            return self._fail(ctx, exc.fail_info, exc.hresult, f"policy module: {exc}")
        except PolicyError as exc:
            return self._fail(ctx, FailInfo.BAD_REQUEST, HResult.E_FAIL, f"policy module: {exc}")
        if not verified:
            return self._fail(
                ctx, FailInfo.BAD_MESSAGE_CHECK, HResult.ERROR_NOT_FOUND, "policy module said no"
            )

        kind = "renewal" if renewal_signer else "enrolment"
        log.info("submitting %s of %s to the CA, template %s", kind, info.subject_text, template)
        record = PendingTransaction(
            transaction_id=tid,
            request_id=0,
            csr_der=csr_der,
            subject=info.subject,
            requester_key=_spki(message.signer),
            template=template,
            created_at=self._clock.now(),
            challenge=info.challenge_password,
            renewal_signer=renewal_signer,
        )
        try:
            result = await self._ca.submit(self._countersign(csr_der), template, tid)
        except CaError as exc:
            await self._notify(record, X509SCEPDisposition.FAILURE, exc.hresult, None)
            return self._fail(ctx, FailInfo.BAD_REQUEST, exc.hresult, str(exc))
        return await self._answer(ctx, result, record, request.cipher)

    async def _poll(self, request: PkiRequest) -> bytes:
        message = request.message
        ctx = message.reply_context
        known = self._pending.get(message.transaction_id)
        if known is None:
            return self._fail(
                ctx,
                FailInfo.BAD_CERT_ID,
                HResult.CRYPT_E_NOT_FOUND,
                "no pending request has this transaction ID",
            )
        if known.requester_key != _spki(message.signer):
            return self._fail(
                ctx,
                FailInfo.BAD_MESSAGE_CHECK,
                HResult.NTE_BAD_SIGNATURE,
                "the CertPoll is not signed by the requester's key",
            )
        return await self._resolve(ctx, known, request.cipher)

    async def _resolve(
        self, ctx: ReplyContext, known: PendingTransaction, cipher: ContentCipher
    ) -> bytes:
        try:
            result = await self._ca.get_request(known.request_id)
        except CaError as exc:
            log.warning("cannot ask the CA about request %d (%s)", known.request_id, exc)
            return scep.build_pending(ctx, ra_cert=self._ra.sign_cert, ra_key=self._ra.sign_key)
        return await self._answer(ctx, result, known, cipher)

    async def _answer(
        self,
        ctx: ReplyContext,
        result: CaResult,
        record: PendingTransaction,
        cipher: ContentCipher,
    ) -> bytes:
        tid = record.transaction_id
        if result.disposition is Disposition.ISSUED and result.certificate is not None:
            self._pending.remove(tid)
            cert = result.certificate
            trace.annotate(
                reply={"status": "SUCCESS", "certificate": trace_fields.certificate(cert)}
            )
            await self._notify(record, X509SCEPDisposition.SUCCESS, HResult.S_OK, _der(cert))
            log.info("issued %X (CA request %d)", cert.serial_number, result.request_id)
            chain = result.chain or (self._ra.chain.issuing, self._ra.chain.root)
            return scep.build_success(
                ctx,
                certificates=[cert, *chain],
                ra_cert=self._ra.sign_cert,
                ra_key=self._ra.sign_key,
                cipher=scep.reply_cipher(cipher, self._config.reply_ciphers),
            )
        if result.disposition is Disposition.PENDING:
            known = self._pending.get(tid)
            if known is None or known.request_id != result.request_id:
                record = replace(record, request_id=result.request_id)
                self._pending.put(record)
                await self._notify(record, X509SCEPDisposition.PENDING, result.hresult, None)
            log.info("CA request %d is pending", result.request_id)
            trace.annotate(reply={"status": "PENDING", "ca_request": result.request_id})
            return scep.build_pending(ctx, ra_cert=self._ra.sign_cert, ra_key=self._ra.sign_key)
        self._pending.remove(tid)
        hresult = result.hresult or HResult.E_FAIL
        await self._notify(record, X509SCEPDisposition.FAILURE, hresult, None)
        why = f"CA request {result.request_id}: {result.disposition.name}, {result.message}"
        return self._fail(ctx, FailInfo.BAD_REQUEST, hresult, why)

    def _countersign(self, csr_der: bytes) -> bytes:
        """The device's PKCS#10 in a SignedData by the enrolment agent: AD CS "on behalf of"."""
        return sign(
            csr_der,
            (),
            signer=self._ra.sign_cert,
            key=self._ra.sign_key,
            digest=Digest.SHA256,
            certificates=[self._ra.sign_cert],
        )

    async def _notify(
        self,
        record: PendingTransaction,
        disposition: X509SCEPDisposition,
        hresult: int,
        issued: bytes | None,
    ) -> None:
        try:
            await self._policy.notify(
                record.challenge, record.transaction_id, disposition, hresult, issued
            )
        except PolicyError as exc:
            log.warning("policy module Notify(%s) failed: %s", disposition.name, exc)

    def _fail(self, ctx: ReplyContext, fail_info: FailInfo, hresult: int, why: str) -> bytes:
        log.info("FAILURE %s, HRESULT 0x%08X: %s", fail_info.name, hresult & 0xFFFFFFFF, why)
        code, info = hresult & 0xFFFFFFFF, trace_fields.fail_info_name(fail_info)
        trace.annotate(
            transaction_id=ctx.transaction_id,
            outcome="refused",
            reply={"status": "FAILURE", "fail_info": info, "hresult": code},
            reason={"fail_info": info, "hresult": code, "detail": why},
        )
        return scep.build_failure(
            ctx,
            fail_info,
            ra_cert=self._ra.sign_cert,
            ra_key=self._ra.sign_key,
            text=why if self._config.failure_text else None,
            hresult=hresult,
        )
