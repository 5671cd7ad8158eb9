"""The revocation agent (intune-api.md §1.4, §3.6): download a page of the cloud's revocation
queue, revoke each serial at the enterprise CA, upload one result per request.

A pass: first upload the results a previous pass could not deliver (and download nothing more
while that fails); then download up to `batch` requests, revoke them one by one through a
`CaRevoker`, and upload the results. Results the cloud could not take (it is down) stay in
memory for the next pass; should the connector die meanwhile, nothing is lost either: the
cloud offers again requests that stay downloaded too long.

Results are what the C# connector sends (`errorCode` as the enum's name):
- revoked → succeeded, `None`;
- already revoked (CRYPT_E_REVOKED) → `ConflictError`, which the cloud counts as revoked;
- unknown serial (ERROR_FILE_NOT_FOUND) → `CertificateNotFoundError`;
- the CA unreachable, timing out or failing (5xx) → `ServiceUnavailableException`, the CA
  refusing the agent's token → `AuthenticationException`: retryable (4100-4103), the cloud puts
  the request back in its queue. After the first retryable verdict of a pass the CA is not
  asked again in that pass: the remaining requests go back with the same code, untried;
- any other refusal → `NonRetryableServiceException` with the CA's message.

Events (Microsoft-Intune-CertificateConnectors, 3000s = revoke): 3050 RevokeSuccess, 3051
RevokeFailure, 3052 RevokeFailedAttempt are the real names; the reference gives only the IDs of
3002/3003 (download), 3020 (downloaded request) and 3100/3101 (upload), so their names here are
the lab's. An already revoked certificate is logged as 3050: it is revoked, as asked. The CA's
token is never logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol

from shared.api.intune import RevocationErrorCode, RevocationRequest, RevocationResult
from shared.clock import Clock

from .cloud import CloudCallRejected, CloudClient, CloudError
from .periodic import Problem, repeat

logger = logging.getLogger(__name__)

DOWNLOAD_SUCCESS = 3002
DOWNLOAD_FAILURE = 3003
DOWNLOADED_REQUEST = 3020
REVOKE_SUCCESS = 3050
REVOKE_FAILURE = 3051
REVOKE_FAILED_ATTEMPT = 3052
UPLOAD_SUCCESS = 3100
UPLOAD_FAILURE = 3101
MAX_MESSAGE = 500


@dataclass(frozen=True)
class RevokeVerdict:
    """What became of one serial at the CA, as the result the cloud will be told."""

    code: RevocationErrorCode
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.code is RevocationErrorCode.NONE

    @property
    def revoked(self) -> bool:
        """The certificate is revoked now: by this call, or before it (ConflictError)."""
        return self.code in (RevocationErrorCode.NONE, RevocationErrorCode.CONFLICT_ERROR)


class CaRevoker(Protocol):
    """The enterprise CA, as the agent needs it. Never raises: every outcome is a verdict."""

    async def revoke(self, serial_hex: str) -> RevokeVerdict: ...


@dataclass(frozen=True)
class RevocationPass:
    """One pass: how many requests came down, the results made for them (in order), how many
    results reached the cloud (earlier passes' included) and how many are kept for the next."""

    downloaded: int
    results: tuple[RevocationResult, ...]
    uploaded: int
    kept: int


def result_of(request: RevocationRequest, verdict: RevokeVerdict) -> RevocationResult:
    return RevocationResult(
        request_context=request.request_context,
        succeeded=verdict.succeeded,
        error_code=verdict.code.wire_name,
        error_message=verdict.message[:MAX_MESSAGE] or None,
    )


class RevocationAgent:
    def __init__(
        self, cloud: CloudClient, revoker: CaRevoker, clock: Clock, *, batch: int = 100
    ) -> None:
        if not 1 <= batch <= 500:
            raise ValueError("batch must be between 1 and 500")
        self._cloud = cloud
        self._revoker = revoker
        self._clock = clock
        self._batch = batch
        self._unsent: list[RevocationResult] = []
        self._lock = asyncio.Lock()
        self.last_pass: dt.datetime | None = None
        """When the latest pass that reached its end (download and upload done) ended."""
        self.last_error: Problem | None = None
        """The latest pass's problem (cloud or CA unavailable...); None after a clean pass."""

    @property
    def pending_uploads(self) -> int:
        return len(self._unsent)

    async def run_once(self) -> RevocationPass:
        """One pass (passes never overlap). Cloud and CA failures are logged and kept in
        `last_error`, not raised."""
        return await self._pass(None)

    async def run_forever(self, stop: asyncio.Event, interval: float) -> None:
        """A pass at once, then one every `interval` seconds until `stop` is set; a pass
        stops revoking when `stop` is set and hands the rest back to the cloud."""

        async def step() -> None:
            await self._pass(stop)

        await repeat(step, stop, interval, name="revocation pass")

    def health(self) -> dict[str, object]:
        return {
            "enabled": True,
            "lastPass": None if self.last_pass is None else self.last_pass.isoformat(),
            "lastError": None if self.last_error is None else self.last_error.as_json(),
            "pendingUploads": self.pending_uploads,
        }

    async def _pass(self, stop: asyncio.Event | None) -> RevocationPass:
        async with self._lock:
            try:
                return await self._work(stop)
            except Exception as exc:  # shown on /health, then logged by `repeat`
                self._problem(f"{type(exc).__name__}: {exc}")
                raise

    async def _work(self, stop: asyncio.Event | None) -> RevocationPass:
        uploaded = 0
        if self._unsent:
            earlier = len(self._unsent)
            if not await self._upload():
                return RevocationPass(0, (), 0, self.pending_uploads)
            uploaded = earlier
        try:
            requests = await self._cloud.download_revocations(self._batch)
        except CloudError as exc:
            logger.warning(
                "3003 RevokeDownloadFailure: could not download revocation requests: %s",
                exc,
                extra={"event_id": DOWNLOAD_FAILURE},
            )
            self._problem(f"download: {exc}")
            return RevocationPass(0, (), uploaded, self.pending_uploads)
        logger.log(
            logging.INFO if requests else logging.DEBUG,
            "3002 RevokeDownloadSuccess: %d revocation request(s) downloaded",
            len(requests),
            extra={"event_id": DOWNLOAD_SUCCESS},
        )
        results, ca_problem = await self._revoke_all(requests, stop)
        self._unsent.extend(results)
        if self._unsent:
            count = len(self._unsent)
            if not await self._upload():
                return RevocationPass(len(requests), results, uploaded, self.pending_uploads)
            uploaded += count
        self.last_pass = self._clock.now()
        self.last_error = None if ca_problem is None else Problem.of(self.last_pass, ca_problem)
        return RevocationPass(len(requests), results, uploaded, 0)

    async def _revoke_all(
        self, requests: list[RevocationRequest], stop: asyncio.Event | None
    ) -> tuple[tuple[RevocationResult, ...], str | None]:
        """A result for every request; the CA's problem, if one stopped the pass."""
        results: list[RevocationResult] = []
        untried: RevokeVerdict | None = None  # set: the rest go back to the cloud untried
        problem: str | None = None
        for request in requests:
            logger.info(
                "3020 RevokeDownloadedRequest: request %s, serial %s, issuer %r",
                request.request_context,
                request.serial_number,
                request.issuer_name,
                extra={"event_id": DOWNLOADED_REQUEST},
            )
            if untried is None and stop is not None and stop.is_set():
                untried = RevokeVerdict(
                    RevocationErrorCode.SERVICE_UNAVAILABLE_EXCEPTION,
                    "not attempted: the connector is stopping",
                )
            if untried is not None:
                verdict = untried
                self._log(request, verdict, attempted=False)
            else:
                verdict = await self._revoke(request.serial_number)
                self._log(request, verdict, attempted=True)
                if verdict.code.retryable:
                    problem = f"CA: {verdict.code.wire_name}: {verdict.message}"
                    untried = RevokeVerdict(
                        verdict.code, f"not attempted: the CA failed before ({verdict.message})"
                    )
            results.append(result_of(request, verdict))
        return tuple(results), problem

    async def _revoke(self, serial: str) -> RevokeVerdict:
        try:
            return await self._revoker.revoke(serial)
        except Exception as exc:  # a revoker must not raise; should one, the cloud retries
            logger.exception("the CA revoker failed on serial %s", serial)
            return RevokeVerdict(
                RevocationErrorCode.RETRYABLE_SERVICE_EXCEPTION,
                f"the connector failed: {type(exc).__name__}",
            )

    def _log(self, request: RevocationRequest, verdict: RevokeVerdict, *, attempted: bool) -> None:
        serial, context = request.serial_number, request.request_context
        code, message = verdict.code.wire_name, verdict.message
        if verdict.revoked:
            logger.info(
                "3050 RevokeSuccess: serial %s (request %s) is revoked%s",
                serial,
                context,
                "" if verdict.succeeded else f" ({code}: {message})",
                extra={"event_id": REVOKE_SUCCESS},
            )
        elif verdict.code.retryable:
            logger.log(
                logging.WARNING if attempted else logging.INFO,
                "3052 RevokeFailedAttempt: serial %s (request %s): %s: %s; the cloud will "
                "offer it again",
                serial,
                context,
                code,
                message,
                extra={"event_id": REVOKE_FAILED_ATTEMPT},
            )
        else:
            logger.error(
                "3051 RevokeFailure: serial %s (request %s): %s: %s",
                serial,
                context,
                code,
                message,
                extra={"event_id": REVOKE_FAILURE},
            )

    async def _upload(self) -> bool:
        """Upload every kept result; on success forget them. A cloud that is unavailable keeps
        them for the next pass; a cloud that refuses them outright drops them (it offers the
        requests again later, and the same upload would be refused again)."""
        count = len(self._unsent)
        try:
            await self._cloud.upload_revocation_results(self._unsent)
        except CloudCallRejected as exc:
            self._unsent.clear()
            logger.error(
                "3101 RevokeUploadFailure: the cloud refused %d result(s), dropped: %s",
                count,
                exc,
                extra={"event_id": UPLOAD_FAILURE},
            )
            self._problem(f"upload refused: {exc}")
            return False
        except CloudError as exc:
            logger.warning(
                "3101 RevokeUploadFailure: %d result(s) kept for the next pass: %s",
                count,
                exc,
                extra={"event_id": UPLOAD_FAILURE},
            )
            self._problem(f"upload: {exc}")
            return False
        self._unsent.clear()
        logger.info(
            "3100 RevokeUploadSuccess: %d result(s) uploaded",
            count,
            extra={"event_id": UPLOAD_SUCCESS},
        )
        return True

    def _problem(self, message: str) -> None:
        self.last_error = Problem.of(self._clock.now(), message)
