"""`HttpCaRevoker`: the revocation agent's `CaRevoker` on the enterprise CA's HTTP API (ca_sim:
`POST {ca_url}/ca/revoke`, `Authorization: Bearer <admin token>`, `{"serialNumber", "reason"}`),
always with reason cessationOfOperation (5): Intune revokes because a device was retired,
wiped or lost its profile, not because a key was compromised.

The CA answers 200 with `revoked: true`, or `revoked: false` and the HRESULT of its refusal.
Each answer becomes a verdict (see `connector.revocation` for what the cloud makes of them):

    revoked                                        → None (succeeded)
    0x80092010 CRYPT_E_REVOKED (already revoked)   → ConflictError
    0x80070002 ERROR_FILE_NOT_FOUND (no such serial) → CertificateNotFoundError
    another HRESULT, another 4xx                   → NonRetryableServiceException, the CA's message
    401 / 403 (the token)                          → AuthenticationException   (retryable)
    429                                            → ServiceTooBusyException   (retryable)
    unreachable, timeout, 408, 5xx                 → ServiceUnavailableException (retryable)
    a 200 that is not a RevokeResult               → DataSerializationError

The token is sent per request from a `SecretStr` and appears in no log line or message.
"""

from __future__ import annotations

import ssl

import httpx
from pydantic import SecretStr, ValidationError

from shared.api.ca import RevocationReason, RevokeRequest, RevokeResult
from shared.api.intune import RevocationErrorCode
from shared.trace import Tracer

from .revocation import RevokeVerdict

CRYPT_E_REVOKED = 0x80092010
ERROR_FILE_NOT_FOUND = 0x80070002
REVOKE_PATH = "/ca/revoke"
MAX_DETAIL = 300

Code = RevocationErrorCode


def _detail(response: httpx.Response) -> str:
    """The CA's own words: `detail` (or `message`) of a JSON body, else the text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("detail", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])[:MAX_DETAIL]
    return response.text[:MAX_DETAIL]


def verdict_of(response: httpx.Response) -> RevokeVerdict:
    """The verdict for the CA's answer to one revoke call."""
    status = response.status_code
    if status in (401, 403):
        return RevokeVerdict(Code.AUTHENTICATION_EXCEPTION, f"HTTP {status}: {_detail(response)}")
    if status == 429:
        return RevokeVerdict(Code.SERVICE_TOO_BUSY_EXCEPTION, f"HTTP 429: {_detail(response)}")
    if status >= 500 or status == 408:
        return RevokeVerdict(
            Code.SERVICE_UNAVAILABLE_EXCEPTION, f"HTTP {status}: {_detail(response)}"
        )
    if status != 200:
        return RevokeVerdict(
            Code.NON_RETRYABLE_SERVICE_EXCEPTION, f"HTTP {status}: {_detail(response)}"
        )
    try:
        result = RevokeResult.model_validate_json(response.content)
    except ValidationError:
        return RevokeVerdict(Code.DATA_SERIALIZATION_ERROR, "the CA's answer is not a RevokeResult")
    if result.revoked:
        return RevokeVerdict(Code.NONE, result.message)
    hresult = result.hresult & 0xFFFFFFFF
    text = f"0x{hresult:08X}: {result.message}"
    if hresult == CRYPT_E_REVOKED:
        return RevokeVerdict(Code.CONFLICT_ERROR, text)
    if hresult == ERROR_FILE_NOT_FOUND:
        return RevokeVerdict(Code.CERTIFICATE_NOT_FOUND_ERROR, text)
    return RevokeVerdict(Code.NON_RETRYABLE_SERVICE_EXCEPTION, text)


class HttpCaRevoker:
    """Revokes over HTTP(S) at the CA. `transport` replaces the network (tests); `verify` is the
    TLS trust for an https CA URL."""

    def __init__(
        self,
        ca_url: str,
        token: SecretStr | str,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        timeout: float = 10.0,
        verify: ssl.SSLContext | bool = True,
        reason: RevocationReason = RevocationReason.CESSATION_OF_OPERATION,
        tracer: Tracer | None = None,
    ) -> None:
        self.tracer = tracer or Tracer("connector")
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self._reason = reason
        self._http = httpx.AsyncClient(
            base_url=ca_url.rstrip("/"),
            transport=self.tracer.transport("ca", transport, verify=verify),
            timeout=httpx.Timeout(timeout),
        )

    def __repr__(self) -> str:
        return f"HttpCaRevoker({str(self._http.base_url)!r})"

    async def revoke(self, serial_hex: str) -> RevokeVerdict:
        body = RevokeRequest(serial_number=serial_hex, reason=self._reason)
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            response = await self._http.post(
                REVOKE_PATH, json=body.model_dump(mode="json", by_alias=True), headers=headers
            )
        except httpx.TransportError as exc:  # connect, read, write, pool, timeouts
            return RevokeVerdict(
                Code.SERVICE_UNAVAILABLE_EXCEPTION, f"the CA is unreachable: {type(exc).__name__}"
            )
        return verdict_of(response)

    async def aclose(self) -> None:
        await self._http.aclose()
