"""A small fake of the enterprise CA (ca_sim's contract in shared/api/ca.py) for NDES's tests.

Bare PKCS#10 with the admin token: the two RA templates. CMS-wrapped PKCS#10 signed by an
enrolment agent it issued: the device templates it knows; "ApprovalTemplate" goes pending until
`approve`. It copies the CSR's subject, key usage and EKUs into the certificate (what a template
with "supply in the request" and a permissive EKU list does) — enough to show the weakness.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from dataclasses import dataclass, field

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from shared.api.ca import Disposition, RequestResult, SubmitRequest
from shared.clock import FixedClock
from shared.pki import CertProfile, Eku, PrivateKey, inspect_csr, issue_certificate, new_serial
from shared.scep.signed import verify

UNSUPPORTED_CERT_TYPE = 0x80094800
RA_TEMPLATES = {
    "EnrollmentAgentOffline": frozenset({"digital_signature"}),
    "CEPEncryption": frozenset({"key_encipherment"}),
}
DEVICE_TEMPLATES = {
    "IPSECIntermediateOffline",
    "SigTemplate",
    "EncTemplate",
    "GpTemplate",
    "ApprovalTemplate",
}


@dataclass(frozen=True)
class CaPki:
    root_key: PrivateKey
    root: x509.Certificate
    issuing_key: PrivateKey
    issuing: x509.Certificate


@dataclass(frozen=True)
class Submission:
    template: str
    csr_der: bytes
    agent: x509.Certificate | None  # None: a bare request with the admin token
    transaction_id: str | None


def b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


@dataclass
class FakeCa:
    pki: CaPki
    clock: FixedClock
    token: str = "ca-admin-token"
    down: bool = False
    delay: float = 0.0
    submissions: list[Submission] = field(default_factory=list)
    lookups: list[int] = field(default_factory=list)
    results: dict[int, RequestResult] = field(default_factory=dict)
    _pending_csrs: dict[int, bytes] = field(default_factory=dict)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def device_submissions(self) -> list[Submission]:
        return [s for s in self.submissions if s.agent is not None]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.delay)
        if self.down:
            raise httpx.ConnectError("the fake CA is down", request=request)
        path = request.url.path
        if request.method == "GET" and path == "/pki/issuing.crt":
            return httpx.Response(200, content=self.pki.issuing.public_bytes(Encoding.DER))
        if request.method == "GET" and path == "/pki/root.crt":
            return httpx.Response(200, content=self.pki.root.public_bytes(Encoding.DER))
        if request.method == "POST" and path == "/ca/submit":
            return self._submit(request)
        if request.method == "GET" and path.startswith("/ca/requests/"):
            request_id = int(path.rsplit("/", 1)[1])
            self.lookups.append(request_id)
            return self._answer(self.results[request_id])
        return httpx.Response(404, json={"detail": "not found"})

    def _answer(self, result: RequestResult) -> httpx.Response:
        return httpx.Response(200, content=result.model_dump_json(by_alias=True))

    def _submit(self, request: httpx.Request) -> httpx.Response:
        body = SubmitRequest.model_validate_json(request.content)
        der = base64.b64decode(body.request)
        if request.headers.get("authorization") == f"Bearer {self.token}":
            usage = RA_TEMPLATES.get(body.template)
            if usage is None:
                return httpx.Response(403, json={"detail": "not an RA template"})
            self.submissions.append(Submission(body.template, der, None, None))
            profile = CertProfile(
                validity=dt.timedelta(days=730),
                key_usage=usage,
                ekus=(Eku.CERTIFICATE_REQUEST_AGENT.value,),
            )
            return self._answer(self._issue(der, profile))
        if "authorization" in request.headers:
            return httpx.Response(401, content=json.dumps({"hresult": 0x80070005}))
        verified = verify(der)
        agent = verified.signer
        assert agent.issuer == self.pki.issuing.subject, "not signed by one of our agents"
        ekus = agent.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert x509.ObjectIdentifier(Eku.CERTIFICATE_REQUEST_AGENT.value) in ekus
        csr_der = verified.content or b""
        self.submissions.append(Submission(body.template, csr_der, agent, body.transaction_id))
        request_id = len(self.results) + 1
        if body.template not in DEVICE_TEMPLATES:
            result = RequestResult(
                request_id=request_id,
                disposition=Disposition.FAILED,
                disposition_message="The requested certificate template is not supported by "
                "this CA.",
                hresult=UNSUPPORTED_CERT_TYPE,
            )
            self.results[request_id] = result
            return self._answer(result)
        if body.template == "ApprovalTemplate":
            result = RequestResult(
                request_id=request_id,
                disposition=Disposition.PENDING,
                disposition_message="Taken Under Submission",
                hresult=0,
            )
            self.results[request_id] = result
            self._pending_csrs[request_id] = csr_der
            return self._answer(result)
        return self._answer(self._issue(csr_der, self._device_profile(csr_der)))

    def _device_profile(self, csr_der: bytes) -> CertProfile:
        info = inspect_csr(csr_der)
        return CertProfile(
            validity=dt.timedelta(days=365), key_usage=info.key_usage, ekus=info.ekus
        )

    def _issue(self, csr_der: bytes, profile: CertProfile, request_id: int = 0) -> RequestResult:
        info = inspect_csr(csr_der)
        request_id = request_id or len(self.results) + 1
        cert = issue_certificate(
            subject=info.subject,
            public_key=info.public_key,  # type: ignore[arg-type]
            issuer_cert=self.pki.issuing,
            issuer_key=self.pki.issuing_key,
            serial=new_serial(),
            not_before=self.clock.now() - dt.timedelta(minutes=1),
            profile=profile,
            sans=info.sans,
        )
        result = RequestResult(
            request_id=request_id,
            disposition=Disposition.ISSUED,
            disposition_message="Issued",
            hresult=0,
            certificate=b64(cert),
            chain=[b64(self.pki.issuing), b64(self.pki.root)],
            serial_number=format(cert.serial_number, "x"),
        )
        self.results[request_id] = result
        return result

    def approve(self, request_id: int) -> None:
        csr_der = self._pending_csrs.pop(request_id)
        self._issue(csr_der, self._device_profile(csr_der), request_id)

    def deny(self, request_id: int) -> None:
        self._pending_csrs.pop(request_id)
        self.results[request_id] = RequestResult(
            request_id=request_id,
            disposition=Disposition.DENIED,
            disposition_message="Denied by an officer",
            hresult=0x80094014,
        )
