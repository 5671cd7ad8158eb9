"""Intune's NDES policy module: `IntuneConnectorPolicy` asks the Certificate Connector.

The real module (the connector's NDESPlugin) forwards INDESPolicy::VerifyRequest and ::Notify to
the connector on the NDES host over HTTPS with a client certificate; so does this one, to the
connector's local API (`shared.api.connector`): `POST /policy/verifyRequest` and
`POST /policy/notify`, camelCase JSON. Intune makes the challenges, so `generate_challenge`
raises `ChallengeNotSupported`; with this module NDES answers a bare GET of mscep.dll with 403.

How a verdict reaches the device (always a signed CertRep FAILURE, never an HTTP 500):
- `verified: false` → `PolicyRejected` with the connector's `hresult`, or NDES's "challenge
  unknown" HRESULT (ERROR_NOT_FOUND, as for a bad one-time password) when it sends 0. failInfo is
  badRequest, not badMessageCheck: the connector judges more than the challenge (subject and SAN
  against the signed challenge, expiry, the device), so the answer is "this transaction is not
  permitted" (RFC 8894 badRequest); the HRESULT says which.
- connector unreachable, timed out or 5xx → RPC_S_SERVER_UNAVAILABLE, badRequest (as for the CA).
- connector answers 4xx or outside the contract (our client certificate refused, a malformed
  body) → E_FAIL, badRequest, logged as an error: the module is misconfigured.

Notify needs the CSR (`certificateRequest`), which NDES does not pass to Notify: the module keeps
the DER from a verified request by transaction ID until a final Notify (SUCCESS or FAILURE; a
PENDING one keeps it for the later SUCCESS). Notify never fails the enrolment: if the connector
cannot be told, it is logged; once the connector has accepted, its outbox makes delivery durable.

The module speaks to the connector through a port, `ConnectorApi` (JSON bytes in, status and
body out, `ConnectorUnreachable` when no answer came), so it imports no HTTP client; the httpx
implementation, with the client certificate (`ConnectorTls`), is `app.HttpConnectorApi`.
"""

from __future__ import annotations

import base64
import ssl
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ValidationError

from shared.api.connector import (
    NOTIFY_PATH,
    VERIFY_PATH,
    NotifyRequest,
    NotifyResult,
    VerifyRequest,
    VerifyResult,
)
from shared.scep import FailInfo
from shared.tls import client_context

from .errors import ChallengeNotSupported, PolicyError, PolicyRejected
from .hresult import HResult
from .logs import get_logger
from .policy import X509SCEPDisposition

log = get_logger(__name__)

MAX_REMEMBERED = 10_000
"""Verified requests awaiting their final Notify; beyond this the oldest are forgotten."""
_FINAL = (X509SCEPDisposition.SUCCESS, X509SCEPDisposition.FAILURE)


class ConnectorUnreachable(PolicyError):
    """No answer from the connector: refused, reset, timed out."""


@dataclass(frozen=True)
class ConnectorReply:
    status: int
    body: bytes


class ConnectorApi(Protocol):
    async def open(self) -> None:
        """Ready the connection (start-up: bad TLS files raise `PolicyError`)."""
        ...

    async def post(self, path: str, body: bytes) -> ConnectorReply:
        """POST JSON `body`. Raises `ConnectorUnreachable` when no answer came."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ConnectorTls:
    """The module's identity towards the connector, and the root it trusts for the connector."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def context(self) -> ssl.SSLContext:
        """Checked at start-up: a missing or unusable file stops NDES with a clear message."""
        for label, path in (
            ("connector CA (NDES_INTUNE_CONNECTOR_CA_PATH)", self.ca_file),
            ("client certificate (NDES_INTUNE_CLIENT_CERT_PATH)", self.cert_file),
            ("client key (NDES_INTUNE_CLIENT_KEY_PATH)", self.key_file),
        ):
            if not path.is_file():
                raise PolicyError(f"Intune policy module: {label} {path} is not a readable file")
        try:
            return client_context(self.ca_file, cert_file=self.cert_file, key_file=self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise PolicyError(
                f"Intune policy module: cannot use {self.cert_file}, {self.key_file} "
                f"or {self.ca_file}: {exc}"
            ) from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json(body: BaseModel) -> bytes:
    return body.model_dump_json(by_alias=True).encode("utf-8")


def _unsigned(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


class IntuneConnectorPolicy:
    def __init__(self, connector: ConnectorApi) -> None:
        self._connector = connector
        self._requests: OrderedDict[str, bytes] = OrderedDict()

    @property
    def remembered(self) -> int:
        """Verified requests whose final Notify has not come yet."""
        return len(self._requests)

    async def initialize(self) -> None:
        await self._connector.open()
        self._requests.clear()

    async def uninitialize(self) -> None:
        await self._connector.aclose()
        self._requests.clear()

    def generate_challenge(self, template: str, params: str) -> str:
        raise ChallengeNotSupported("Intune makes the challenges: NDES hands out none")

    async def verify_request(
        self,
        csr_der: bytes,
        signer_cert_der: bytes | None,
        template: str,
        transaction_id: str,
    ) -> bool:
        body = VerifyRequest(
            transactionId=transaction_id,
            certificateRequest=_b64(csr_der),
            signerCertificate=_b64(signer_cert_der) if signer_cert_der is not None else None,
            template=template,
        )
        log.info("Calling VerifyRequest")
        try:
            reply = await self._connector.post(VERIFY_PATH, _json(body))
        except ConnectorUnreachable as exc:
            raise self._unavailable(str(exc)) from exc
        if reply.status >= 500:
            raise self._unavailable(f"HTTP {reply.status}")
        if reply.status >= 400:
            log.error("VerifyRequest: the connector answered HTTP %d", reply.status)
            raise PolicyRejected(
                f"the connector refused the policy module: HTTP {reply.status}",
                HResult.E_FAIL,
                FailInfo.BAD_REQUEST,
            )
        try:
            result = VerifyResult.model_validate_json(reply.body)
        except ValidationError as exc:
            log.error("VerifyRequest: the connector's answer is not a VerifyResult")
            raise PolicyRejected(
                "the connector's answer is not a VerifyResult", HResult.E_FAIL, FailInfo.BAD_REQUEST
            ) from exc
        if not result.verified:
            hresult = _unsigned(result.hresult) or HResult.ERROR_NOT_FOUND
            log.info("VerifyRequest: not verified (%s, 0x%08X)", result.code, hresult)
            raise PolicyRejected(
                f"Intune: {result.code} {result.description}".strip(),
                hresult,
                FailInfo.BAD_REQUEST,
            )
        self._remember(transaction_id, csr_der)
        log.info("VerifyRequest: verified")
        return True

    async def notify(
        self,
        challenge: str | None,
        transaction_id: str,
        disposition: X509SCEPDisposition,
        hresult: int,
        issued_cert_der: bytes | None,
    ) -> None:
        csr_der = self._requests.get(transaction_id)
        if disposition in _FINAL:
            self._requests.pop(transaction_id, None)
        if csr_der is None:
            log.warning("Notify(%s): no verified request has this ID", disposition.name)
            return
        body = NotifyRequest(
            transactionId=transaction_id,
            certificateRequest=_b64(csr_der),
            disposition=int(disposition),
            hresult=_unsigned(hresult),
            issuedCertificate=_b64(issued_cert_der) if issued_cert_der is not None else None,
        )
        log.info("Calling Notifyrequest (%s, 0x%08X)", disposition.name, _unsigned(hresult))
        try:
            reply = await self._connector.post(NOTIFY_PATH, _json(body))
        except ConnectorUnreachable as exc:
            log.warning("Calling Notifyrequest failed: %s", exc)
            return
        if reply.status >= 300:
            log.warning("Calling Notifyrequest failed: HTTP %d", reply.status)
            return
        try:
            result = NotifyResult.model_validate_json(reply.body)
        except ValidationError:
            log.warning("Calling Notifyrequest failed: the answer is not a NotifyResult")
            return
        if not result.queued:
            log.warning("Calling Notifyrequest: the connector did not queue it")
            return
        log.info("Notifyrequest queued by the connector")

    def _remember(self, transaction_id: str, csr_der: bytes) -> None:
        self._requests[transaction_id] = csr_der
        self._requests.move_to_end(transaction_id)
        while len(self._requests) > MAX_REMEMBERED:
            self._requests.popitem(last=False)

    def _unavailable(self, why: str) -> PolicyRejected:
        log.warning("VerifyRequest: the connector is unavailable (%s)", why)
        return PolicyRejected(
            f"the Intune connector is unavailable ({why})",
            HResult.RPC_S_SERVER_UNAVAILABLE,
            FailInfo.BAD_REQUEST,
        )
