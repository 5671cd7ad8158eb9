"""The cloud's side of every SCEP request: validate it against its challenge, then take the
success or failure notification. One service for both callers: third-party CAs (bearer tokens,
Microsoft's published API) and the lab's Certificate Connector (mutual TLS).

Notifications are idempotent by tenant and transaction ID: a repeated delivery answers as the
first did and changes nothing.

A challenge serves one request (unless challenges may be reused): a successful validation
reserves it for its transaction, so another transaction carrying it is refused
(BadCertificateRequestIdInChallenge) from that moment — not only once the success report has
arrived, which a durable outbox may deliver seconds or hours later. The same transaction with the
same CSR may be validated again (a device resending after a lost answer). A failure notification
releases the challenge: nothing was issued with it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import trace
from shared.api.intune import (
    FailureNotificationBody,
    ScepActionResult,
    SuccessNotificationBody,
    ValidationRequestBody,
)
from shared.pki import CsrError, inspect_csr

from .challenges import challenge_keys, resolve_expectations
from .context import CloudContext
from .domain.claims import ChallengeClaims
from .domain.codes import ErrorCode
from .domain.renewal import IssuedCertificate, validate_renewal
from .domain.validation import validate
from .management import NotFound, get_device, is_targeted, record_certificate_state
from .management.enums import CertificateIssuanceState
from .management.enums import CertificateRevokeStatus as Revoke
from .store.connectors import ScepTransactionRow
from .store.identity import group_ids_for
from .store.management import CertificateStateRow

ODATA_CONTEXT = (
    "{base}/RACerts/StatelessScepRequestValidationService/$metadata"
    "#microsoft.management.services.scepRequestValidationService.api.scepActionResult"
)


class _Lookup:
    """The decision tables' questions (a request with a challenge, a renewal), answered from
    the cloud's database."""

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: str,
        transaction_id: str = "",
        csr_digest: str = "",
        *,
        context: CloudContext | None = None,
    ) -> None:
        self.session, self.tenant_id = session, tenant_id
        self.transaction_id, self.csr_digest = transaction_id, csr_digest
        self.context = context

    async def issued_certificate(self, thumbprint: str) -> IssuedCertificate | None:
        row = await self.session.scalar(
            select(CertificateStateRow).where(
                CertificateStateRow.tenant_id == self.tenant_id,
                CertificateStateRow.thumbprint == thumbprint,
            )
        )
        if row is None:
            return None
        revoked = row.revoke_status not in (Revoke.NONE.value, Revoke.FAILED.value)
        return IssuedCertificate(row.device_id, row.configuration_id, revoked)

    async def expected_claims(self, device_id: str, profile_id: str) -> ChallengeClaims:
        assert self.context is not None, "a renewal lookup needs the cloud's context"
        expected = await resolve_expectations(
            self.session,
            self.context,
            self.tenant_id,
            device_id,
            profile_id,
            now=self.context.clock.now(),
        )
        return expected.claims

    async def device_exists(self, tenant_id: str, device_id: str) -> bool:
        try:
            await get_device(self.session, tenant_id, device_id)
        except NotFound:
            return False
        return True

    async def user_matches(self, tenant_id: str, device_id: str, user_id: str) -> bool:
        device = await get_device(self.session, tenant_id, device_id)
        return device.user_id is not None and device.user_id.lower() == user_id.lower()

    async def challenge_used(self, challenge_id: str) -> bool:
        """Held by another request: validated or issued, under another transaction ID or for
        another CSR."""
        holders = await self.session.scalars(
            select(ScepTransactionRow).where(
                ScepTransactionRow.tenant_id == self.tenant_id,
                ScepTransactionRow.challenge_id == challenge_id,
                ScepTransactionRow.state.in_(("validated", "issued")),
            )
        )
        return any(
            row.transaction_id != self.transaction_id or row.csr_sha256 != self.csr_digest
            for row in holders
        )

    async def is_profile_targeted(self, device_id: str, profile_id: str) -> bool:
        device = await get_device(self.session, self.tenant_id, device_id)
        groups = await group_ids_for(
            self.session, self.tenant_id, user_id=device.user_id, device_id=device_id
        )
        return await is_targeted(self.session, self.tenant_id, device_id, profile_id, groups)


def trace_claims(claims: ChallengeClaims | None) -> dict[str, object] | None:
    """The challenge's claims as the trace shows them: not its ID, which acts as a password."""
    if claims is None:
        return None
    return {
        "tenant": claims.tenant_id,
        "device_id": claims.device_id,
        "user_id": claims.user_id,
        "profile_id": claims.profile_id,
        "request_id": claims.request_id,
        "expected_subject": claims.expected_subject,
        "expected_sans": [f"{kind}:{value}" for kind, value in claims.expected_sans],
        "expected_ekus": list(claims.expected_ekus),
        "expected_key_length": claims.expected_key_length,
        "issued_at": claims.issued_at.isoformat(),
        "expires_at": claims.expires_at.isoformat(),
    }


def _result(context: CloudContext, code: ErrorCode, description: str) -> ScepActionResult:
    if code is not ErrorCode.SUCCESS:
        trace.annotate(outcome="refused", reason={"intune_code": code.value, "detail": description})
    return ScepActionResult.model_validate(
        {
            "code": code.value,
            "errorDescription": description,
            "@odata.context": ODATA_CONTEXT.format(base=context.settings.public_base_url),
        }
    )


def _validation_state(ok: bool, *, renewal: bool) -> CertificateIssuanceState:
    if not ok:
        return CertificateIssuanceState.CHALLENGE_VALIDATION_FAILED
    if renewal:
        return CertificateIssuanceState.RENEW_VERIFIED
    return CertificateIssuanceState.CHALLENGE_VALIDATION_SUCCEEDED


def _signer_thumbprint(signer_certificate: str | None) -> str | None:
    """SHA-1 (upper hex) of the renewal signer the connector passed, if it reads."""
    if not signer_certificate:
        return None
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(signer_certificate, validate=True))
    except (binascii.Error, ValueError):
        return None
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def _has_challenge(certificate_request: str) -> bool:
    """Whether the CSR carries a challengePassword (an unreadable CSR counts as one: the
    challenge path then refuses it with CertificateRequestDecodingFailed)."""
    try:
        return inspect_csr(base64.b64decode(certificate_request)).challenge_password is not None
    except (binascii.Error, ValueError, CsrError):
        return True


def _csr_digest(certificate_request: str) -> str:
    try:
        der = base64.b64decode(certificate_request, validate=False)
    except (binascii.Error, ValueError):
        der = certificate_request.encode()
    return hashlib.sha256(der).hexdigest()


async def _transaction(
    session: AsyncSession, tenant_id: str, transaction_id: str, certificate_request: str
) -> ScepTransactionRow | None:
    """The request with this transaction ID and this CSR (see ScepTransactionRow)."""
    row: ScepTransactionRow | None = await session.scalar(
        select(ScepTransactionRow).where(
            ScepTransactionRow.tenant_id == tenant_id,
            ScepTransactionRow.transaction_id == transaction_id,
            ScepTransactionRow.csr_sha256 == _csr_digest(certificate_request),
        )
    )
    return row


async def validate_request(
    session: AsyncSession,
    context: CloudContext,
    tenant_id: str,
    caller: str,
    body: ValidationRequestBody,
) -> ScepActionResult:
    now = context.clock.now()
    lookup = _Lookup(
        session,
        tenant_id,
        body.transaction_id,
        _csr_digest(body.certificate_request),
        context=context,
    )
    signer = _signer_thumbprint(body.signer_certificate)
    if signer is not None and not _has_challenge(body.certificate_request):
        verdict = await validate_renewal(
            body.certificate_request, signer_thumbprint=signer, lookup=lookup
        )
    else:
        verdict = await validate(
            body.certificate_request,
            keys=challenge_keys(context),
            caller_tenant_id=tenant_id,
            now=now,
            lookup=lookup,
            allow_reuse=context.settings.challenge_reusable,
        )
    claims = verdict.claims
    trace.annotate(
        transaction_id=body.transaction_id,
        outcome=None if verdict.ok else "refused",
        challenge=trace_claims(claims),
        renewal_signer=signer,
        decision=verdict.code.value,
        reason=None
        if verdict.ok
        else {"intune_code": verdict.code.value, "detail": verdict.detail or verdict.description},
    )
    row = await _transaction(session, tenant_id, body.transaction_id, body.certificate_request)
    if row is None:
        row = ScepTransactionRow(tenant_id=tenant_id, transaction_id=body.transaction_id)
        session.add(row)
    elif row.state in ("issued", "failed"):
        # the request was already served: do not reopen it
        return _result(
            context,
            ErrorCode.BAD_CERTIFICATE_REQUEST_ID_IN_CHALLENGE,
            "this transaction was already reported",
        )
    row.caller = caller
    row.challenge_id = claims.challenge_id if claims and signer is None else None
    row.device_id = claims.device_id if claims else None
    row.profile_id = claims.profile_id if claims else None
    row.validation_code = verdict.code.value
    row.state = "validated" if verdict.ok else "rejected"
    row.csr_sha256 = _csr_digest(body.certificate_request)
    row.validated_at = now
    await session.flush()
    if claims is not None and await _Lookup(session, tenant_id).device_exists(
        tenant_id, claims.device_id
    ):
        await record_certificate_state(
            session,
            tenant_id,
            device_id=claims.device_id,
            configuration_id=claims.profile_id,
            issuance_state=_validation_state(verdict.ok, renewal=signer is not None),
            now=now,
        )
    return _result(context, verdict.code, verdict.description)


async def success_notification(
    session: AsyncSession,
    context: CloudContext,
    tenant_id: str,
    body: SuccessNotificationBody,
) -> ScepActionResult:
    now = context.clock.now()
    trace.annotate(
        transaction_id=body.transaction_id,
        serial=body.certificate_serial_number,
        thumbprint=body.certificate_thumbprint,
        expires=body.certificate_expiration_date_utc,
    )
    row = await _transaction(session, tenant_id, body.transaction_id, body.certificate_request)
    if row is None or row.state == "rejected":
        return _result(
            context,
            ErrorCode.UNKNOWN,
            "no validated request with this transactionId and certificateRequest",
        )
    if row.state == "issued":
        return _result(context, ErrorCode.SUCCESS, "")  # a repeated delivery: nothing changes
    if row.state != "validated":
        return _result(context, ErrorCode.UNKNOWN, "this request was reported failed already")
    row.state = "issued"
    row.certificate_serial = body.certificate_serial_number.lower()
    row.certificate_thumbprint = body.certificate_thumbprint.upper()
    row.reported_at = now
    await session.flush()
    if row.device_id and row.profile_id:
        await record_certificate_state(
            session,
            tenant_id,
            device_id=row.device_id,
            configuration_id=row.profile_id,
            issuance_state=CertificateIssuanceState.ISSUED,
            now=now,
            serial_number=row.certificate_serial,
            thumbprint=row.certificate_thumbprint,
            issuer=body.issuing_certificate_authority,
            ca_configuration=body.ca_configuration,
            certificate_authority=body.certificate_authority,
            expiration=_parse_time(body.certificate_expiration_date_utc),
            issued_at=now,
        )
    return _result(context, ErrorCode.SUCCESS, "")


async def failure_notification(
    session: AsyncSession,
    context: CloudContext,
    tenant_id: str,
    body: FailureNotificationBody,
) -> ScepActionResult:
    now = context.clock.now()
    trace.annotate(
        transaction_id=body.transaction_id,
        reported={"hresult": body.h_result & 0xFFFFFFFF, "detail": body.error_description[:200]},
    )
    row = await _transaction(session, tenant_id, body.transaction_id, body.certificate_request)
    if row is None:
        return _result(context, ErrorCode.UNKNOWN, "no request with this transactionId")
    if row.state in ("issued", "failed"):
        return _result(context, ErrorCode.SUCCESS, "")  # already reported: nothing changes
    row.state = "failed"
    row.hresult = body.h_result
    row.error_description = body.error_description[:255]
    row.reported_at = now
    await session.flush()
    if row.device_id and row.profile_id:
        await record_certificate_state(
            session,
            tenant_id,
            device_id=row.device_id,
            configuration_id=row.profile_id,
            issuance_state=CertificateIssuanceState.ISSUE_FAILED,
            now=now,
            error_code=body.h_result,
        )
    return _result(context, ErrorCode.SUCCESS, "")


def _parse_time(text: str) -> dt.datetime | None:
    """ISO-8601 UTC with up to 7 fractional digits (`2018-06-11T16:11:20.0904778Z`)."""
    value = text.strip().removesuffix("Z")
    if "." in value:
        head, fraction = value.split(".", 1)
        value = f"{head}.{fraction[:6]}"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
