"""CertRep (RFC 8894 §3.3.2): what a server answers, and how a client reads the answer.

SUCCESS carries a degenerate certs-only SignedData (issued certificate first, then the chain; a
CRL for GetCRL) encrypted to the request's signer. FAILURE carries failInfo, optionally
failInfoText and NDES's HRESULT attribute; FAILURE and PENDING carry no envelope.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from . import asn1, envelope, signed
from .certs import build_certs_only, parse_certs_only
from .errors import DecodeError, SignatureError
from .message import new_nonce, parse_message
from .types import (
    CertRepResult,
    ContentCipher,
    FailInfo,
    MessageType,
    PkiStatus,
    ReplyContext,
)

NDES_FAILURE_CONTENT = b"\x00"
"""NDES puts a one-byte eContent into FAILURE replies where RFC 8894 omits it."""


def reply_cipher(
    requested: ContentCipher, allowed: Sequence[ContentCipher] = tuple(ContentCipher)
) -> ContentCipher:
    """The cipher for a reply: what the request used, within what may be emitted.

    Single DES is never emitted: a DES request is answered with 3DES (which every client that
    sends DES also reads). If the request's cipher is not allowed, the first allowed one is used.
    """
    emit = [c for c in allowed if c is not ContentCipher.DES_CBC]
    if not emit:
        raise ValueError("no cipher allowed for replies")
    if requested is ContentCipher.DES_CBC:
        requested = ContentCipher.DES_EDE3_CBC
    return requested if requested in emit else emit[0]


def _cert_rep(
    ctx: ReplyContext,
    status: PkiStatus,
    content: bytes | None,
    *,
    ra_cert: x509.Certificate,
    ra_key: rsa.RSAPrivateKey,
    extra: Sequence[tuple[str, core.Asn1Value]] = (),
    certificates: Sequence[x509.Certificate] = (),
) -> bytes:
    asn1.register()
    attributes: list[tuple[str, core.Asn1Value]] = [
        ("scep_message_type", core.PrintableString(str(int(MessageType.CERT_REP)))),
        ("scep_pki_status", core.PrintableString(str(int(status)))),
        ("scep_transaction_id", core.PrintableString(ctx.transaction_id)),
        ("scep_sender_nonce", core.OctetString(new_nonce())),
        ("scep_recipient_nonce", core.OctetString(ctx.sender_nonce)),
        *extra,
    ]
    return signed.sign(
        content,
        attributes,
        signer=ra_cert,
        key=ra_key,
        digest=ctx.digest,
        certificates=certificates,
    )


def build_success(
    ctx: ReplyContext,
    *,
    certificates: Sequence[x509.Certificate],
    ra_cert: x509.Certificate,
    ra_key: rsa.RSAPrivateKey,
    cipher: ContentCipher,
    crls: Sequence[bytes] = (),
    include_signer: bool = True,
) -> bytes:
    """CertRep SUCCESS: `certificates` (issued first) and `crls`, encrypted to the signer."""
    if ctx.signer is None:
        raise ValueError("a SUCCESS needs the request's signer certificate to encrypt to")
    degenerate = build_certs_only(certificates, crls)
    enveloped = envelope.encrypt(degenerate, [ctx.signer], cipher=cipher)
    return _cert_rep(
        ctx,
        PkiStatus.SUCCESS,
        enveloped,
        ra_cert=ra_cert,
        ra_key=ra_key,
        certificates=[ra_cert] if include_signer else (),
    )


def build_failure(
    ctx: ReplyContext,
    fail_info: FailInfo,
    *,
    ra_cert: x509.Certificate,
    ra_key: rsa.RSAPrivateKey,
    text: str | None = None,
    hresult: int | None = None,
    ndes_shape: bool = True,
) -> bytes:
    """CertRep FAILURE. `ndes_shape` mimics NDES: a 1-byte eContent and no certificates."""
    extra: list[tuple[str, core.Asn1Value]] = [
        ("scep_fail_info", core.PrintableString(str(int(fail_info))))
    ]
    if text:
        extra.append(("scep_fail_info_text", core.UTF8String(text)))
    if hresult is not None:
        extra.append(("ms_scep_error", core.PrintableString(str(signed_hresult(hresult)))))
    return _cert_rep(
        ctx,
        PkiStatus.FAILURE,
        NDES_FAILURE_CONTENT if ndes_shape else None,
        ra_cert=ra_cert,
        ra_key=ra_key,
        extra=extra,
        certificates=() if ndes_shape else [ra_cert],
    )


def build_pending(
    ctx: ReplyContext, *, ra_cert: x509.Certificate, ra_key: rsa.RSAPrivateKey
) -> bytes:
    return _cert_rep(
        ctx, PkiStatus.PENDING, None, ra_cert=ra_cert, ra_key=ra_key, certificates=[ra_cert]
    )


def signed_hresult(value: int) -> int:
    """An HRESULT as the signed 32-bit number NDES prints (0x80070057 → -2147024809)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def read_cert_rep(
    der: bytes,
    *,
    ra_certs: Sequence[x509.Certificate],
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    transaction_id: str,
    sender_nonce: bytes,
) -> CertRepResult:
    """Verify a CertRep as a client: signer among the RA/CA certs, echoes, then open SUCCESS."""
    message = parse_message(der, extra_certs=ra_certs)
    if message.message_type is not MessageType.CERT_REP:
        raise DecodeError(f"expected a CertRep, got {message.message_type.name}")
    if not any(message.signer == c for c in ra_certs):
        raise SignatureError("the CertRep is not signed by a certificate from GetCACert")
    if message.transaction_id != transaction_id:
        raise DecodeError("the CertRep's transactionID does not echo ours")
    if message.recipient_nonce != sender_nonce:
        raise DecodeError("the CertRep's recipientNonce is not our senderNonce")
    certs: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    if message.pki_status is PkiStatus.SUCCESS:
        if message.envelope is None:
            raise DecodeError("a SUCCESS without pkcsPKIEnvelope")
        opened = envelope.decrypt(message.envelope, certificate=certificate, key=key)
        certs, crls = parse_certs_only(opened.content)
    if message.pki_status is PkiStatus.FAILURE and message.fail_info is None:
        raise DecodeError("a FAILURE without failInfo")
    assert message.pki_status is not None  # parse_message requires it on a CertRep
    return CertRepResult(
        status=message.pki_status,
        transaction_id=message.transaction_id,
        recipient_nonce=message.recipient_nonce,
        sender_nonce=message.sender_nonce,
        certificates=certs,
        crls=crls,
        fail_info=message.fail_info,
        fail_info_text=message.fail_info_text,
        hresult=message.hresult,
    )
