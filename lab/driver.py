"""A SCEP client built on the codec, for benchmarks and checks: GetCACaps, GetCACert, then
PKCSReq by POST, the CertRep verified and opened. One `ScepDriver` per SCEP server URL."""

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
        """The certificate to encrypt to: the one for key encipherment (NDES's CEP Encryption),
        else the first (a CA that is its own RA)."""
        for cert in self.certificates:
            try:
                usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            except x509.ExtensionNotFound:
                continue
            if usage.key_encipherment and not usage.key_cert_sign:
                return cert
        return self.certificates[0]


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


def _cipher(caps: frozenset[scep.Capability]) -> scep.ContentCipher:
    if caps & {scep.Capability.AES, scep.Capability.SCEP_STANDARD}:
        return scep.ContentCipher.AES_128_CBC
    return scep.ContentCipher.DES_EDE3_CBC


async def enrol(
    client: httpx.AsyncClient,
    url: str,
    ca: CaInfo,
    key: rsa.RSAPrivateKey,
    subject: x509.Name,
    challenge: Callable[[], Awaitable[str | None]],
) -> x509.Certificate:
    """One PKCSReq: a CSR with the challenge, signed by a self-signed certificate, by POST."""
    password = await challenge()
    csr = build_csr(key, CsrSpec(subject=subject, challenge_password=password))
    signer = build_self_signed_signer(
        key, subject, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    )
    transaction_id = os.urandom(20).hex()
    nonce = scep.new_nonce()
    body = scep.build_request(
        scep.MessageType.PKCS_REQ,
        csr.public_bytes(serialization.Encoding.DER),
        signer=signer,
        key=key,
        recipients=[ca.recipient],
        transaction_id=transaction_id,
        cipher=_cipher(ca.caps),
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
        key=key,
        transaction_id=transaction_id,
        sender_nonce=nonce,
    )
    if result.status is not scep.PkiStatus.SUCCESS or not result.certificates:
        raise EnrolmentFailed(
            f"{result.status.name}: failInfo {result.fail_info!r} hresult {result.hresult!r}"
        )
    issued = result.certificates[0]
    if issued.public_key() != key.public_key():
        raise EnrolmentFailed("the issued certificate is not for our key")
    return issued
