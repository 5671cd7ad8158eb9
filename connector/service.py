"""The connector's service: what it does when NDES's Intune policy module calls it.

`verify` asks the cloud to validate the request (challenge, subject, SANs...; for a renewal,
the certificate that signed it in place of a challenge) and tells NDES yes or no; `notify`
turns what became of a verified request into a status report and keeps it in the durable outbox
before answering, so that NDES is told "queued" only once the report is safe. Event IDs and
names are the real Certificate Connector's: 4003 ScepRequestReceived, 4004 ScepVerifySuccess,
4005 ScepVerifyFailure, 4006 ScepIssuedSuccess, 4007 ScepIssuedFailure (4008-4010 are the
outbox worker's). Log lines never carry the CSR or the challenge.

HRESULTs in a negative `VerifyResult` (what NDES puts into its CertRep FAILURE):
- the cloud answered with a code other than Success: E_INVALIDARG 0x80070057, as the real
  policy module ends VerifyRequest for a request Intune refused (the code names why);
- the cloud could not be reached or could not serve the call: RPC_S_SERVER_UNAVAILABLE
  0x800706BA with code `ServiceUnavailable` (NDES may be retried by the device later);
- the cloud refused the call itself (4xx, malformed answer): E_FAIL 0x80004005, code
  `ConnectorError`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from enum import IntEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from shared.api.connector import NotifyRequest, NotifyResult, VerifyRequest, VerifyResult
from shared.api.intune import (
    FailureNotification,
    FailureNotificationBody,
    SuccessNotification,
    SuccessNotificationBody,
)
from shared.clock import Clock

from .cloud import SUCCESS, CloudClient, CloudError, CloudUnavailable
from .delivery import OutboxWorker
from .outbox import Report

logger = logging.getLogger(__name__)

REQUEST_RECEIVED = 4003
VERIFY_SUCCESS = 4004
VERIFY_FAILURE = 4005
ISSUED_SUCCESS = 4006
ISSUED_FAILURE = 4007

E_FAIL = 0x80004005
E_INVALIDARG = 0x80070057
RPC_S_SERVER_UNAVAILABLE = 0x800706BA
SERVICE_UNAVAILABLE = "ServiceUnavailable"
CONNECTOR_ERROR = "ConnectorError"
MAX_DESCRIPTION = 255


class Disposition(IntEnum):
    """X509SCEPDisposition, as NDES passes it to INDESPolicy::Notify."""

    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class IssuedCertificateInvalid(ValueError):
    """A success notify without a readable issued certificate: a 4xx for the module."""


def _signed32(hresult: int) -> int:
    """HRESULTs travel unsigned from NDES; Intune's `hResult` is a signed 32-bit int."""
    value = hresult & 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _utc_z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _issued_certificate(text: str | None) -> x509.Certificate:
    if not text:
        raise IssuedCertificateInvalid("a success notification needs issuedCertificate")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise IssuedCertificateInvalid("issuedCertificate is not a base64 DER certificate") from exc


def success_notification(request: NotifyRequest, caller_info: str) -> SuccessNotification:
    """The success report for the certificate NDES issued: SHA-1 thumbprint (upper hex),
    serial (lower hex, as the cloud stores it), expiry in ISO-8601 UTC with 'Z', issuer RFC 4514."""
    cert = _issued_certificate(request.issued_certificate)
    return SuccessNotification(
        notification=SuccessNotificationBody(
            transactionId=request.transaction_id,
            certificateRequest=request.certificate_request,
            certificateThumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),
            certificateSerialNumber=f"{cert.serial_number:x}",
            certificateExpirationDateUtc=_utc_z(cert.not_valid_after_utc),
            issuingCertificateAuthority=cert.issuer.rfc4514_string(),
            callerInfo=caller_info,
            caConfiguration=request.ca_configuration,
            certificateAuthority=request.certificate_authority,
        )
    )


def failure_notification(request: NotifyRequest, caller_info: str) -> FailureNotification:
    return FailureNotification(
        notification=FailureNotificationBody(
            transactionId=request.transaction_id,
            certificateRequest=request.certificate_request,
            hResult=_signed32(request.hresult),
            errorDescription="NDES could not issue the certificate "
            f"(0x{request.hresult & 0xFFFFFFFF:08X})",
            callerInfo=caller_info,
        )
    )


class ConnectorService:
    """Verify and notify, free of any transport: the local API and tests both drive it."""

    def __init__(self, cloud: CloudClient, worker: OutboxWorker, clock: Clock) -> None:
        self._cloud = cloud
        self._worker = worker
        self._clock = clock

    async def verify(self, request: VerifyRequest) -> VerifyResult:
        tx = request.transaction_id
        logger.info(
            "4003 ScepRequestReceived: transaction %r (template %r)",
            tx,
            request.template,
            extra={"event_id": REQUEST_RECEIVED},
        )
        try:
            answer = await self._cloud.validate(
                tx, request.certificate_request, request.signer_certificate
            )
        except CloudUnavailable as exc:
            return self._refused(tx, SERVICE_UNAVAILABLE, str(exc), RPC_S_SERVER_UNAVAILABLE)
        except CloudError as exc:
            return self._refused(tx, CONNECTOR_ERROR, str(exc), E_FAIL)
        if answer.code == SUCCESS:
            logger.info(
                "4004 ScepVerifySuccess: transaction %r", tx, extra={"event_id": VERIFY_SUCCESS}
            )
            return VerifyResult(verified=True, code=SUCCESS)
        return self._refused(tx, answer.code, answer.error_description, E_INVALIDARG)

    def _refused(self, tx: str, code: str, description: str, hresult: int) -> VerifyResult:
        logger.warning(
            "4005 ScepVerifyFailure: transaction %r: %s (0x%08X)",
            tx,
            code,
            hresult,
            extra={"event_id": VERIFY_FAILURE},
        )
        return VerifyResult(
            verified=False, code=code, description=description[:MAX_DESCRIPTION], hresult=hresult
        )

    async def notify(self, request: NotifyRequest) -> NotifyResult:
        """Keep the report durably, then answer `queued`. Raises `IssuedCertificateInvalid` for
        a success without a certificate, `OutboxSaveFailed` when the report could not be kept."""
        now = self._clock.now()
        caller_info = self._cloud.caller_info
        if request.disposition == Disposition.SUCCESS:
            notification = success_notification(request, caller_info)
            await self._worker.enqueue(Report.success(notification, now))
            logger.info(
                "4006 ScepIssuedSuccess: transaction %r, serial %s queued for the cloud",
                request.transaction_id,
                notification.notification.certificate_serial_number,
                extra={"event_id": ISSUED_SUCCESS},
            )
            return NotifyResult(queued=True)
        if request.disposition == Disposition.FAILURE:
            failure = failure_notification(request, caller_info)
            await self._worker.enqueue(Report.failure(failure, now))
            logger.warning(
                "4007 ScepIssuedFailure: transaction %r, 0x%08X, queued for the cloud",
                request.transaction_id,
                request.hresult & 0xFFFFFFFF,
                extra={"event_id": ISSUED_FAILURE},
            )
            return NotifyResult(queued=True)
        return NotifyResult(queued=False)  # pending (3) or unknown: nothing to report yet
