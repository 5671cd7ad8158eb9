"""The device side for NDES's tests: keys, CSRs, SCEP requests, reading CertReps, the admin page."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from shared import scep
from shared.pki import (
    CsrSpec,
    KeySpec,
    KeyUsageName,
    build_csr,
    build_self_signed_signer,
    generate_key,
)

PASSWORD_RE = re.compile(r"The enrollment challenge password is: <B> (\S+) </B>")


@functools.cache
def device_key(index: int) -> rsa.RSAPrivateKey:
    key = generate_key(KeySpec.rsa(2048))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def name(cn: str, o: str = "Lab Devices") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
        ]
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


@dataclass
class Device:
    """A SCEP client: its key, and the certificate it signs requests with."""

    key: rsa.RSAPrivateKey
    signer: x509.Certificate

    @classmethod
    def new(cls, index: int, cn: str, now: dt.datetime) -> Device:
        key = device_key(index)
        return cls(key, build_self_signed_signer(key, name(cn), now - dt.timedelta(minutes=1)))

    def csr(
        self,
        cn: str,
        *,
        challenge: str | None = None,
        key_usage: frozenset[KeyUsageName] | None = frozenset(
            {"digital_signature", "key_encipherment"}
        ),
        ekus: Sequence[str] = ("1.3.6.1.5.5.7.3.2",),
        o: str = "Lab Devices",
    ) -> bytes:
        spec = CsrSpec(
            subject=name(cn, o), key_usage=key_usage, ekus=tuple(ekus), challenge_password=challenge
        )
        return build_csr(self.key, spec).public_bytes(Encoding.DER)


@dataclass(frozen=True)
class Sent:
    """A request as sent: what the reply must echo, and who can open it."""

    der: bytes
    transaction_id: str
    nonce: bytes
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


def build(
    device: Device,
    data: scep.MessageData,
    recipients: Sequence[x509.Certificate],
    *,
    message_type: scep.MessageType = scep.MessageType.PKCS_REQ,
    transaction_id: str | None = None,
    signer: x509.Certificate | None = None,
    signer_key: rsa.RSAPrivateKey | None = None,
    cipher: scep.ContentCipher = scep.ContentCipher.AES_128_CBC,
    digest: scep.Digest = scep.Digest.SHA256,
) -> Sent:
    tid = transaction_id or secrets.token_hex(20)
    nonce = scep.new_nonce()
    cert, key = signer or device.signer, signer_key or device.key
    body = scep.build_request(
        message_type,
        data,
        signer=cert,
        key=key,
        recipients=recipients,
        transaction_id=tid,
        cipher=cipher,
        digest=digest,
        sender_nonce=nonce,
    )
    return Sent(body, tid, nonce, cert, key)


def read(reply: bytes, sent: Sent, ra_certs: Sequence[x509.Certificate]) -> scep.CertRepResult:
    return scep.read_cert_rep(
        reply,
        ra_certs=ra_certs,
        certificate=sent.certificate,
        key=sent.key,
        transaction_id=sent.transaction_id,
        sender_nonce=sent.nonce,
    )


def hresult(result: scep.CertRepResult) -> int | None:
    return None if result.hresult is None else result.hresult & 0xFFFFFFFF


def password_from(page: bytes) -> str | None:
    """What Fleet's scraper does: decode the UTF-16 page, regex the password out."""
    match = PASSWORD_RE.search(page.decode("utf-16"))
    return match.group(1) if match else None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
