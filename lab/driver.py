"""A SCEP client built on the codec, for benchmarks and checks: GetCACaps, GetCACert, then
PKCSReq (or RenewalReq, or CertPoll) by POST, the CertRep verified and opened."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared import scep
from shared.pki import CsrSpec, build_csr, build_self_signed_signer


class EnrolmentFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class CaInfo:
    caps: frozenset[scep.Capability]
    certificates: tuple[x509.Certificate, ...]

    @property
    def recipient(self) -> x509.Certificate:
        return scep.encryption_recipient(self.certificates)

    @property
    def cipher(self) -> scep.ContentCipher:
        if self.caps & {scep.Capability.AES, scep.Capability.SCEP_STANDARD}:
            return scep.ContentCipher.AES_128_CBC
        return scep.ContentCipher.DES_EDE3_CBC


@dataclass(frozen=True)
class Exchange:
    """One PKIOperation: what was sent and what came back, verified (and opened if SUCCESS)."""

    transaction_id: str
    signer: x509.Certificate
    signer_key: rsa.RSAPrivateKey
    result: scep.CertRepResult

    @property
    def certificate(self) -> x509.Certificate:
        if self.result.status is not scep.PkiStatus.SUCCESS or not self.result.certificates:
            raise EnrolmentFailed(
                f"{self.result.status.name}: failInfo {self.result.fail_info!r}, "
                f"hresult {self.result.hresult!r}"
            )
        return self.result.certificates[0]


async def fetch_ca_info(client: httpx.AsyncClient, url: str) -> CaInfo:
    caps = await client.get(url, params={"operation": "GetCACaps"})
    caps.raise_for_status()
    cacert = await client.get(url, params={"operation": "GetCACert"})
    cacert.raise_for_status()
    if cacert.headers.get("content-type", "").startswith(scep.CA_RA_CERT):
        certs, _ = scep.parse_certs_only(cacert.content)
    else:
        certs = (x509.load_der_x509_certificate(cacert.content),)
    return CaInfo(scep.parse_caps(caps.text), tuple(certs))


async def exchange(
    client: httpx.AsyncClient,
    url: str,
    ca: CaInfo,
    message_type: scep.MessageType,
    data: scep.MessageData,
    *,
    signer: x509.Certificate,
    signer_key: rsa.RSAPrivateKey,
    transaction_id: str | None = None,
) -> Exchange:
    """Send one request by POST and read the CertRep (signer, echoes, envelope checked)."""
    transaction_id = transaction_id or os.urandom(20).hex()
    nonce = scep.new_nonce()
    body = scep.build_request(
        message_type,
        data,
        signer=signer,
        key=signer_key,
        recipients=[ca.recipient],
        transaction_id=transaction_id,
        cipher=ca.cipher,
        sender_nonce=nonce,
    )
    response = await client.post(
        url,
        params={"operation": "PKIOperation"},
        content=body,
        headers={"content-type": scep.PKI_MESSAGE},
    )
    if response.status_code != 200:
        raise EnrolmentFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    result = scep.read_cert_rep(
        response.content,
        ra_certs=ca.certificates,
        certificate=signer,
        key=signer_key,
        transaction_id=transaction_id,
        sender_nonce=nonce,
    )
    return Exchange(transaction_id, signer, signer_key, result)


async def request(
    client: httpx.AsyncClient,
    url: str,
    ca: CaInfo,
    key: rsa.RSAPrivateKey,
    spec: CsrSpec,
    *,
    renew_with: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
    message_type: scep.MessageType = scep.MessageType.PKCS_REQ,
) -> Exchange:
    """A PKCSReq (or RenewalReq) for `spec`. Signed by a fresh self-signed certificate, or by
    `renew_with` (an existing certificate and its key: a renewal)."""
    csr = build_csr(key, spec)
    if renew_with is None:
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        signer, signer_key = build_self_signed_signer(key, spec.subject, now), key
    else:
        signer, signer_key = renew_with
    return await exchange(
        client,
        url,
        ca,
        message_type,
        csr.public_bytes(serialization.Encoding.DER),
        signer=signer,
        signer_key=signer_key,
    )


async def poll(
    client: httpx.AsyncClient, url: str, ca: CaInfo, pending: Exchange, subject: x509.Name
) -> Exchange:
    """CertPoll for a pending request: same transaction ID and signer (RFC 8894 §3.3.3)."""
    issuer = ca.certificates[-1].subject if len(ca.certificates) == 1 else _issuing(ca).subject
    return await exchange(
        client,
        url,
        ca,
        scep.MessageType.CERT_POLL,
        scep.IssuerAndSubject(issuer, subject),
        signer=pending.signer,
        signer_key=pending.signer_key,
        transaction_id=pending.transaction_id,
    )


def _issuing(ca: CaInfo) -> x509.Certificate:
    for cert in ca.certificates:
        try:
            if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                return cert
        except x509.ExtensionNotFound:
            continue
    return ca.certificates[-1]


async def enrol(
    client: httpx.AsyncClient,
    url: str,
    ca: CaInfo,
    key: rsa.RSAPrivateKey,
    subject: x509.Name,
    challenge: Callable[[], Awaitable[str | None]],
) -> x509.Certificate:
    """Challenge, PKCSReq, SUCCESS expected; the issued certificate checked against our key."""
    spec = CsrSpec(subject=subject, challenge_password=await challenge())
    issued = (await request(client, url, ca, key, spec)).certificate
    if issued.public_key() != key.public_key():
        raise EnrolmentFailed("the issued certificate is not for our key")
    return issued
