"""The connector's side of the cloud's connector API: `CloudClient` (validate, heartbeat, renew,
the two notifications, the revocation download and upload) over mutual TLS with the identity
certificate, `OutboxSender` (the outbox's `Sender` on that client) and `enroll` (sign-in with an
administrator's token, which writes the identity key pair into the data folder).

Errors: `CloudError` is the root; `CloudUnavailable` means "the call may be tried again"
(network error, timeout, 5xx, 429, and 401/403: the identity certificate may be renewed or the
clock fixed); `CloudCallRejected` means the cloud refused the call itself (another 4xx, or an
answer that is not what the contract says).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from shared.api.intune import (
    DownloadParameters,
    DownloadRevocationRequests,
    RevocationRequest,
    RevocationRequests,
    RevocationResult,
    ScepActionResult,
    UploadRevocationResults,
    ValidateRequest,
    ValidationRequestBody,
)
from shared.pki import CsrSpec, PrivateKey, build_csr
from shared.tls import client_context
from shared.trace import Tracer

from .identity import write_identity as write_identity  # re-exported: enroll writes it
from .outbox import Report, ReportKind, SendResult
from .settings import ConnectorSettings

SUCCESS = "Success"
RETRYABLE_STATUS = frozenset({401, 403, 408, 425, 429})
PATHS = {
    ReportKind.SUCCESS: "/connector/scep/successNotification",
    ReportKind.FAILURE: "/connector/scep/failureNotification",
}


class CloudError(Exception):
    """The root of the cloud client's errors."""


class CloudUnavailable(CloudError):
    """The cloud could not be reached or could not serve the call now: try again later."""


class CloudCallRejected(CloudError):
    """The cloud refused the call itself (4xx) or answered outside the contract."""


@dataclass(frozen=True)
class Identity:
    """The connector's identity certificate, as the cloud issued it (enroll or renew)."""

    connector_id: str
    tenant_id: str
    certificate: x509.Certificate
    issuer: x509.Certificate
    not_after: dt.datetime


def _b64_der_certificate(text: object, what: str) -> x509.Certificate:
    if not isinstance(text, str):
        raise CloudCallRejected(f"the cloud's answer has no {what}")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise CloudCallRejected(f"the cloud's {what} is not a base64 DER certificate") from exc


def parse_identity(body: object) -> Identity:
    """The enroll / renew answer: `{connectorId, tenantId, certificate, issuer, notAfter}`."""
    if not isinstance(body, dict):
        raise CloudCallRejected("the cloud's identity answer is not a JSON object")
    connector_id, tenant_id = body.get("connectorId"), body.get("tenantId")
    if not isinstance(connector_id, str) or not isinstance(tenant_id, str):
        raise CloudCallRejected("the cloud's identity answer lacks connectorId or tenantId")
    certificate = _b64_der_certificate(body.get("certificate"), "certificate")
    issuer = _b64_der_certificate(body.get("issuer"), "issuer")
    return Identity(connector_id, tenant_id, certificate, issuer, certificate.not_valid_after_utc)


def _check(response: httpx.Response, call: str) -> httpx.Response:
    status = response.status_code
    if status >= 500 or status in RETRYABLE_STATUS:
        raise CloudUnavailable(f"{call}: HTTP {status} {response.text[:200]}")
    if status >= 400:
        raise CloudCallRejected(f"{call}: HTTP {status} {response.text[:200]}")
    return response


def _action_result(response: httpx.Response, call: str) -> ScepActionResult:
    try:
        return ScepActionResult.model_validate_json(response.content)
    except ValidationError as exc:
        raise CloudCallRejected(f"{call}: the answer is not a ScepActionResult") from exc


def _http_client(
    settings: ConnectorSettings, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    """Mutual TLS with the identity key pair as the files hold it now, trusting only the lab TLS
    root; with `transport` (tests), that transport instead and no TLS context."""
    timeout = httpx.Timeout(settings.cloud_timeout_seconds)
    tracer = Tracer("connector", settings.trace_dir)
    if transport is not None:
        traced = tracer.transport("cloud", transport)
        return httpx.AsyncClient(transport=traced, base_url=settings.cloud_url, timeout=timeout)
    context = client_context(
        settings.cloud_ca_path,
        cert_file=settings.effective_identity_cert_path,
        key_file=settings.effective_identity_key_path,
    )
    traced = tracer.transport("cloud", verify=context)
    return httpx.AsyncClient(base_url=settings.cloud_url, transport=traced, timeout=timeout)


class CloudClient:
    """The cloud's connector API over one httpx client. TLS identity is per connection: after a
    renewal, `reload_identity` swaps in a client built on the new files."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        caller_info: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = http
        self._caller_info = caller_info
        self._transport = transport

    @classmethod
    def from_settings(
        cls, settings: ConnectorSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> CloudClient:
        """Mutual TLS with the identity key pair, trusting only the lab TLS root; with
        `transport` (tests), that transport instead and no TLS context."""
        return cls(
            _http_client(settings, transport),
            caller_info=settings.caller_info,
            transport=transport,
        )

    async def reload_identity(self, settings: ConnectorSettings) -> None:
        """Use the identity files as they are now for every new call: a new httpx client (a new
        TLS context) replaces the old one, which is then closed. A call still running on the old
        client may fail with a transport error, which callers treat as "try again". With an
        injected transport (tests) the transport is kept, and the old client is not closed:
        closing it would close the shared transport."""
        old, self._http = self._http, _http_client(settings, self._transport)
        if self._transport is None:
            await old.aclose()

    @property
    def caller_info(self) -> str:
        return self._caller_info

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: object) -> httpx.Response:
        try:
            response = await self._http.post(path, json=body)
        except httpx.TransportError as exc:  # connect, read, write, pool, timeouts
            raise CloudUnavailable(f"POST {path}: {type(exc).__name__}: {exc}") from exc
        return _check(response, f"POST {path}")

    async def validate(
        self, transaction_id: str, csr_b64: str, signer_certificate: str | None = None
    ) -> ScepActionResult:
        """Ask the cloud whether this CSR (with its challenge, or for a renewal signed by
        `signer_certificate`, base64 DER) may be issued."""
        body = ValidateRequest(
            request=ValidationRequestBody(
                transactionId=transaction_id,
                certificateRequest=csr_b64,
                callerInfo=self._caller_info,
                signerCertificate=signer_certificate,
            )
        )
        path = "/connector/scep/validateRequest"
        response = await self._post(
            path, body.model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        return _action_result(response, f"POST {path}")

    async def notify(self, report: Report) -> ScepActionResult:
        """Deliver one success or failure report (its body is the wire JSON already)."""
        path = PATHS[report.kind]
        return _action_result(await self._post(path, report.body), f"POST {path}")

    async def heartbeat(self, version: str) -> None:
        await self._post("/connector/heartbeat", {"connectorVersion": version})

    async def renew(self, csr: x509.CertificateSigningRequest) -> Identity:
        """A new identity certificate for the CSR's key (the caller keeps the key)."""
        der = csr.public_bytes(serialization.Encoding.DER)
        response = await self._post(
            "/connector/renew", {"certificateRequest": base64.b64encode(der).decode()}
        )
        return parse_identity(response.json())

    async def download_revocations(
        self, max_requests: int, issuer_name: str | None = None
    ) -> list[RevocationRequest]:
        """Up to `max_requests` (1..500) queued revocation requests, which the cloud now counts
        as handed to this connector."""
        path = "/connector/revocation/download"
        body = DownloadRevocationRequests(
            downloadParameters=DownloadParameters(maxRequests=max_requests, issuerName=issuer_name)
        )
        response = await self._post(path, body.model_dump(mode="json", by_alias=True))
        try:
            return RevocationRequests.model_validate_json(response.content).value
        except ValidationError as exc:
            raise CloudCallRejected(f"POST {path}: the answer is not RevocationRequests") from exc

    async def upload_revocation_results(self, results: Sequence[RevocationResult]) -> None:
        """One result per downloaded request; the cloud answers `{"value": true}` (the C#
        client also accepts the string "true")."""
        path = "/connector/revocation/upload"
        body = UploadRevocationResults(results=list(results))
        response = await self._post(path, body.model_dump(mode="json", by_alias=True))
        try:
            value = response.json().get("value")
        except (ValueError, AttributeError) as exc:
            raise CloudCallRejected(f"POST {path}: the answer is not a JSON object") from exc
        if value is not True and value != "true":
            raise CloudCallRejected(f"POST {path}: the cloud answered value={value!r}")


class OutboxSender:
    """The outbox's `Sender` on a `CloudClient`: `Success` delivers, another code refuses (the
    cloud received the report and will never take it), anything else is retried."""

    def __init__(self, cloud: CloudClient) -> None:
        self._cloud = cloud

    async def send(self, report: Report) -> SendResult:
        try:
            result = await self._cloud.notify(report)
        except CloudError as exc:
            return SendResult.retry(str(exc))
        if result.code == SUCCESS:
            return SendResult.delivered()
        return SendResult.refused(result.code, result.error_description)


async def enroll(
    cloud_url: str,
    ca_path: Path | None,
    admin_token: str,
    machine_name: str,
    key: PrivateKey,
    *,
    data_dir: Path,
    display_name: str = "",
    connector_version: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> Identity:
    """Sign the connector in with an Intune administrator's bearer token and keep the identity
    in `data_dir` (`identity.key` 0600, `identity.pem`): both written to temporary files first
    and renamed only once the cloud answered, so a failure leaves nothing half-written."""
    csr = build_csr(
        key, CsrSpec(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, machine_name)]))
    )
    body: dict[str, str] = {
        "certificateRequest": base64.b64encode(
            csr.public_bytes(serialization.Encoding.DER)
        ).decode(),
        "machineName": machine_name,
    }
    if display_name:
        body["displayName"] = display_name
    if connector_version:
        body["connectorVersion"] = connector_version
    verify: ssl.SSLContext | bool = client_context(ca_path) if ca_path is not None else True
    async with httpx.AsyncClient(
        base_url=cloud_url, transport=transport, verify=verify, timeout=30.0
    ) as http:
        try:
            response = await http.post(
                "/connector/enroll", json=body, headers={"Authorization": f"Bearer {admin_token}"}
            )
        except httpx.TransportError as exc:
            raise CloudUnavailable(f"POST /connector/enroll: {type(exc).__name__}") from exc
    identity = parse_identity(_check(response, "POST /connector/enroll").json())
    write_identity(data_dir, key, identity.certificate)
    return identity
