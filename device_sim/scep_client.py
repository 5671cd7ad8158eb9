"""A device's SCEP client: the exchange with NDES as a persona makes it (GetCACaps, GetCACert,
PKIOperation by GET or POST, CertPoll), on the lab's codec. Every way it can end badly is a
`DeviceFailure` carrying the `certificateIssuanceState` and the HRESULT the device reports.

HRESULTs (what Windows puts in its report; the other personas report the same, for one report
shape): the CertRep FAILURE's own HRESULT attribute when NDES sent one; HTTP errors as
HTTP_E_STATUS_* (0x8019xxxx, the status in the low bits); no connection as
HRESULT_FROM_WIN32(ERROR_WINHTTP_CANNOT_CONNECT) 0x80072EFD; an algorithm the persona will not use
as NTE_BAD_ALGID 0x80090008; a CA that is not the profile's as CERT_E_UNTRUSTEDCA 0x800B0112; a
chain that does not end in an installed root as CERT_E_UNTRUSTEDROOT 0x800B0109; a CertRep
that does not verify as NTE_BAD_SIGNATURE 0x80090006; a request left pending past the retries as
ERROR_TIMEOUT 0x800705B4.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared import scep, trace

from .persona import GetEscaping, Persona, TransactionIds

PendingHook = Callable[[str], Awaitable[None]]
"""Called with the transaction ID each time the CA answers PENDING, before the next poll."""

HTTP_E_STATUS_BASE = 0x80190000
WINHTTP_CANNOT_CONNECT = 0x80072EFD
NTE_BAD_ALGID = 0x80090008
NTE_BAD_SIGNATURE = 0x80090006
CERT_E_UNTRUSTEDCA = 0x800B0112
CERT_E_UNTRUSTEDROOT = 0x800B0109
ERROR_TIMEOUT = 0x800705B4
E_INVALIDARG = 0x80070057


class DeviceFailure(Exception):
    """The profile failed on the device: `state` is the certificateIssuanceState to report."""

    def __init__(self, message: str, *, state: str, hresult: int) -> None:
        super().__init__(message)
        self.state = state
        self.hresult = hresult


@dataclass(frozen=True)
class CaInfo:
    caps: frozenset[scep.Capability]
    certificates: tuple[x509.Certificate, ...]

    @property
    def recipient(self) -> x509.Certificate:
        return scep.encryption_recipient(self.certificates)

    @property
    def ca_certificates(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for c in self.certificates if _is_ca(c))


@dataclass(frozen=True)
class Algorithms:
    cipher: scep.ContentCipher
    digest: scep.Digest
    method: str  # "get" | "post"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def negotiate(persona: Persona, caps: frozenset[scep.Capability]) -> Algorithms:
    """The strongest algorithms both sides have, and GET or POST as the caps allow and the
    persona does. Raises `DeviceFailure` where the persona refuses the CA."""
    c = scep.Capability
    standard = c.SCEP_STANDARD in caps
    if persona.requires_sha2_caps and not caps & {c.SHA1, c.SHA256, c.SHA512} and not standard:
        raise DeviceFailure(
            "the CA's GetCACaps lists no SHA-1, SHA-256 or SHA-512",
            state="requestSubmitFailed",
            hresult=NTE_BAD_ALGID,
        )
    if c.AES in caps or standard:
        cipher = scep.ContentCipher.AES_128_CBC
    elif c.DES3 in caps:
        cipher = scep.ContentCipher.DES_EDE3_CBC
    elif persona.refuses_single_des:
        raise DeviceFailure(
            "the CA offers neither AES nor DES3 (single DES is refused)",
            state="requestSubmitFailed",
            hresult=NTE_BAD_ALGID,
        )
    else:
        cipher = scep.ContentCipher.DES_EDE3_CBC  # the codec never writes single DES
    if c.SHA512 in caps:
        digest = scep.Digest.SHA512
    elif c.SHA256 in caps or standard:
        digest = scep.Digest.SHA256
    else:
        digest = scep.Digest.SHA1
    post_allowed = c.POST_PKI_OPERATION in caps or standard
    method = "post" if persona.pki_operation == "post" and post_allowed else "get"
    return Algorithms(cipher, digest, method)


def transaction_id(persona: Persona, public_key: rsa.RSAPublicKey) -> str:
    if persona.transaction_ids is TransactionIds.SHA1_OF_KEY:
        der = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha1(der).hexdigest().upper()
    return os.urandom(16).hex().upper()


def escape_message(body: bytes, escaping: GetEscaping) -> str:
    text = base64.b64encode(body).decode("ascii")
    if escaping is GetEscaping.FULL:
        return quote(text, safe="")
    if escaping is GetEscaping.HALF:
        return text.replace("+", "%2B").replace("/", "%2F")
    return text


class ScepClient:
    """One SCEP server URL as a persona speaks to it."""

    def __init__(self, http: httpx.AsyncClient, persona: Persona, url: str, ca_name: str) -> None:
        self._http = http
        self._persona = persona
        self.url = persona.url(url)
        self._ca_name = ca_name

    async def _get(self, query: str) -> httpx.Response:
        try:
            response = await self._http.get(f"{self.url}?{query}")
        except httpx.TransportError as exc:
            raise DeviceFailure(
                f"{self.url}: {type(exc).__name__}",
                state="requestSubmitFailed",
                hresult=WINHTTP_CANNOT_CONNECT,
            ) from exc
        _check_http(response)
        return response

    def _message_query(self) -> str:
        message = self._persona.message(self._ca_name)
        return "" if message is None else f"&message={quote(message, safe='')}"

    async def caps(self) -> frozenset[scep.Capability]:
        """GetCACaps (an empty body or an error: no capabilities)."""
        return scep.parse_caps(
            (await self._get(f"operation=GetCACaps{self._message_query()}")).text
        )

    async def ca_info(self, caps: frozenset[scep.Capability]) -> CaInfo:
        """GetCACert, with the capabilities already read."""
        answer = await self._get(f"operation=GetCACert{self._message_query()}")
        try:
            if answer.headers.get("content-type", "").startswith(scep.CA_RA_CERT):
                certs, _ = scep.parse_certs_only(answer.content)
            else:
                certs = (x509.load_der_x509_certificate(answer.content),)
        except (scep.ScepError, ValueError) as exc:
            raise DeviceFailure(
                f"GetCACert: unreadable answer ({exc})",
                state="requestSubmitFailed",
                hresult=NTE_BAD_SIGNATURE,
            ) from exc
        if not certs:
            raise DeviceFailure(
                "GetCACert: no certificate", state="requestSubmitFailed", hresult=NTE_BAD_SIGNATURE
            )
        return CaInfo(caps, tuple(certs))

    async def exchange(
        self,
        ca: CaInfo,
        algorithms: Algorithms,
        message_type: scep.MessageType,
        data: scep.MessageData,
        *,
        signer: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        transaction: str,
    ) -> scep.CertRepResult:
        nonce = scep.new_nonce()
        body = scep.build_request(
            message_type,
            data,
            signer=signer,
            key=signer_key,
            recipients=[ca.recipient],
            transaction_id=transaction,
            cipher=algorithms.cipher,
            digest=algorithms.digest,
            sender_nonce=nonce,
        )
        if algorithms.method == "post":
            try:
                response = await self._http.post(
                    f"{self.url}?operation=PKIOperation",
                    content=body,
                    headers={"content-type": scep.PKI_MESSAGE},
                )
            except httpx.TransportError as exc:
                raise DeviceFailure(
                    f"{self.url}: {type(exc).__name__}",
                    state="requestSubmitFailed",
                    hresult=WINHTTP_CANNOT_CONNECT,
                ) from exc
            _check_http(response)
        else:
            message = escape_message(body, self._persona.get_escaping)
            response = await self._get(f"operation=PKIOperation&message={message}")
        try:
            return scep.read_cert_rep(
                response.content,
                ra_certs=ca.certificates,
                certificate=signer,
                key=signer_key,
                transaction_id=transaction,
                sender_nonce=nonce,
            )
        except scep.ScepError as exc:
            raise DeviceFailure(
                f"the CertRep does not verify: {exc}",
                state="responseProcessingFailed",
                hresult=NTE_BAD_SIGNATURE,
            ) from exc

    async def enrol(
        self,
        ca: CaInfo,
        algorithms: Algorithms,
        message_type: scep.MessageType,
        csr_der: bytes,
        *,
        signer: x509.Certificate,
        signer_key: rsa.RSAPrivateKey,
        subject: x509.Name,
        retries: int,
        retry_delay: float,
        on_pending: PendingHook | None = None,
    ) -> x509.Certificate:
        """PKCSReq/RenewalReq, then CertPoll while PENDING (`retries` times, `retry_delay`
        seconds apart); the issued certificate, or `DeviceFailure`."""
        public_key = signer_key.public_key()
        transaction = transaction_id(self._persona, public_key)
        trace.annotate(transaction_id=transaction)
        result = await self.exchange(
            ca,
            algorithms,
            message_type,
            csr_der,
            signer=signer,
            signer_key=signer_key,
            transaction=transaction,
        )
        issuer = _issuing(ca).subject
        for _ in range(retries):
            if result.status is not scep.PkiStatus.PENDING:
                break
            if on_pending is not None:
                await on_pending(transaction)
            await asyncio.sleep(retry_delay)
            result = await self.exchange(
                ca,
                algorithms,
                scep.MessageType.CERT_POLL,
                scep.IssuerAndSubject(issuer, subject),
                signer=signer,
                signer_key=signer_key,
                transaction=transaction,
            )
        if result.status is scep.PkiStatus.PENDING:
            raise DeviceFailure(
                f"still pending after {retries} polls", state="issuePending", hresult=ERROR_TIMEOUT
            )
        if result.status is scep.PkiStatus.FAILURE:
            hresult = (result.hresult or 0) & 0xFFFFFFFF
            fail = result.fail_info.name if result.fail_info is not None else "?"
            raise DeviceFailure(
                f"CertRep FAILURE: failInfo {fail}, HRESULT 0x{hresult:08X}",
                state="issueFailed",
                hresult=hresult or E_INVALIDARG,
            )
        if not result.certificates:
            raise DeviceFailure(
                "CertRep SUCCESS without a certificate",
                state="responseProcessingFailed",
                hresult=NTE_BAD_SIGNATURE,
            )
        return result.certificates[0]


def _issuing(ca: CaInfo) -> x509.Certificate:
    cas = ca.ca_certificates
    return cas[0] if cas else ca.certificates[-1]


def _check_http(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise DeviceFailure(
            f"HTTP {response.status_code} from {response.request.url.path}",
            state="requestSubmitFailed",
            hresult=HTTP_E_STATUS_BASE | response.status_code,
        )


def thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()
