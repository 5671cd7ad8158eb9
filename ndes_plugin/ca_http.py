"""`CertificateAuthority` over HTTP: the CA's API in shared/api/ca.py, with httpx.

Every transport failure, timeout or 5xx becomes `CaUnavailable` (NDES reports 0x800706BA). A 4xx
whose body is a `RequestResult` is an answer like any other; any other 4xx is a `CaError`.
The CA admin token (the NDES service account's credential) goes with the bare RA requests and
with request look-ups; a CMS submission is authenticated by its enrolment-agent signature.
"""

from __future__ import annotations

import base64

import httpx
from cryptography import x509
from pydantic import SecretStr, ValidationError

from shared.api.ca import RequestResult, SubmitRequest

from .ca import CaChain, CaResult
from .errors import CaError, CaUnavailable
from .hresult import HResult


def _certificate(b64: str, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(b64, validate=True))
    except ValueError as exc:
        raise CaError(f"the CA sent an unreadable {what}: {exc}") from exc


def _result(result: RequestResult) -> CaResult:
    return CaResult(
        request_id=result.request_id,
        disposition=result.disposition,
        message=result.disposition_message,
        hresult=result.hresult & 0xFFFFFFFF,
        certificate=(
            _certificate(result.certificate, "certificate") if result.certificate else None
        ),
        chain=tuple(_certificate(c, "chain certificate") for c in result.chain),
    )


class HttpCertificateAuthority:
    def __init__(
        self,
        base_url: str,
        admin_token: SecretStr,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._token = admin_token
        self._client = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    @property
    def url(self) -> str:
        return str(self._client.base_url)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _auth(self) -> dict[str, str]:
        token = self._token.get_secret_value()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def _send(
        self, method: str, path: str, *, json: object = None, auth: bool = False
    ) -> httpx.Response:
        try:
            response = await self._client.request(
                method, path, json=json, headers=self._auth() if auth else None
            )
        except httpx.TransportError as exc:
            raise CaUnavailable(f"the CA at {self.url} cannot be reached: {exc!r}") from exc
        if response.status_code >= 500:
            raise CaUnavailable(f"the CA answered {method} {path} with {response.status_code}")
        return response

    def _request_result(self, response: httpx.Response, what: str) -> CaResult:
        try:
            return _result(RequestResult.model_validate_json(response.content))
        except ValidationError as exc:
            hresult = HResult.E_FAIL
            try:
                body = response.json()
                if isinstance(body, dict) and isinstance(body.get("hresult"), int):
                    hresult = body["hresult"] & 0xFFFFFFFF
            except ValueError:
                pass
            raise CaError(
                f"the CA answered {what} with {response.status_code} and no request result",
                hresult,
            ) from exc

    async def _submit(self, der: bytes, template: str, tid: str | None, auth: bool) -> CaResult:
        body = SubmitRequest(
            request=base64.b64encode(der).decode("ascii"), template=template, transaction_id=tid
        ).model_dump(by_alias=True, mode="json")
        response = await self._send("POST", "ca/submit", json=body, auth=auth)
        return self._request_result(response, "the submission")

    async def submit(self, signed_request: bytes, template: str, transaction_id: str) -> CaResult:
        return await self._submit(signed_request, template, transaction_id, auth=False)

    async def submit_own(self, csr_der: bytes, template: str) -> CaResult:
        return await self._submit(csr_der, template, None, auth=True)

    async def get_request(self, request_id: int) -> CaResult:
        response = await self._send("GET", f"ca/requests/{request_id}", auth=True)
        return self._request_result(response, f"request {request_id}")

    async def _der_certificate(self, path: str) -> x509.Certificate:
        response = await self._send("GET", path)
        if response.status_code != 200:
            raise CaError(f"the CA answered GET {path} with {response.status_code}")
        try:
            return x509.load_der_x509_certificate(response.content)
        except ValueError as exc:
            raise CaError(f"GET {path}: not a DER certificate ({exc})") from exc

    async def fetch_chain(self) -> CaChain:
        issuing = await self._der_certificate("pki/issuing.crt")
        root = await self._der_certificate("pki/root.crt")
        return CaChain(issuing=issuing, root=root)

    async def reachable(self) -> bool:
        try:
            response = await self._client.get("pki/issuing.crt", timeout=2.0)
        except httpx.TransportError:
            return False
        return response.status_code == 200
