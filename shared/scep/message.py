"""SCEP pkiMessages (RFC 8894 §3): the signed layer, the envelope inside it, the messageData.

Bytes in, values out. `parse_message` reads and verifies the signed layer; `open_request` also
decrypts the envelope and decodes the messageData; `build_request` makes what a client sends.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from . import asn1, envelope, signed
from .errors import DecodeError, MissingAttribute, ScepError, SignatureError
from .names import name_from_asn1, name_to_asn1
from .types import (
    ContentCipher,
    Digest,
    FailInfo,
    IssuerAndSerial,
    IssuerAndSubject,
    MessageData,
    MessageType,
    PkiRequest,
    PkiStatus,
    ReplyContext,
    SignedMessage,
    TransactionId,
)

NONCE_SIZE = 16


def new_nonce() -> bytes:
    return os.urandom(NONCE_SIZE)


def _value(attributes: dict[str, cms.CMSAttribute], name: str) -> object | None:
    attr = attributes.get(name)
    if attr is None:
        return None
    try:
        values = attr["values"]
        if len(values) != 1:
            raise DecodeError(f"attribute {name} must have exactly one value")
        value: object = values[0].native
        return value
    except ValueError:
        # a value of another string type than SCEP says (UTF8String for PrintableString, ...)
        try:
            loose: object = core.load(attr["values"].contents).native
            return loose
        except ValueError as exc:
            raise DecodeError(f"attribute {name} has an undecodable value") from exc


def _text(attributes: dict[str, cms.CMSAttribute], name: str) -> str | None:
    value = _value(attributes, name)
    if value is not None and not isinstance(value, str):
        raise DecodeError(f"attribute {name} is not a string")
    return value


def _number(attributes: dict[str, cms.CMSAttribute], name: str) -> int | None:
    text = _text(attributes, name)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError as exc:
        raise DecodeError(f"attribute {name} is not a decimal number: {text!r}") from exc


def _octets(attributes: dict[str, cms.CMSAttribute], name: str) -> bytes | None:
    value = _value(attributes, name)
    if value is not None and not isinstance(value, bytes):
        raise DecodeError(f"attribute {name} is not an OCTET STRING")
    return value


_E = TypeVar("_E", MessageType, PkiStatus, FailInfo)


def _enum(kind: type[_E], value: int | None, name: str) -> _E | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise DecodeError(f"unknown {name} {value}") from exc


def _reply_context_unverified(der: bytes) -> ReplyContext | None:
    """transactionID and senderNonce of a message whose signature failed, to answer it."""
    try:
        info = signed.load_signed_data(der)["signer_infos"][0]
        attributes = {attr["type"].native: attr for attr in info["signed_attrs"]}
        tid = _text(attributes, "scep_transaction_id")
        nonce = _octets(attributes, "scep_sender_nonce")
        digest = Digest(info["digest_algorithm"]["algorithm"].native)
    except (ScepError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    if tid is None or nonce is None:
        return None
    return ReplyContext(TransactionId(tid), nonce, digest, None)


def parse_message(der: bytes, *, extra_certs: Sequence[x509.Certificate] = ()) -> SignedMessage:
    """Read and verify the signed layer of any pkiMessage (requests and CertRep alike)."""
    try:
        verified = signed.verify(der, extra_certs=extra_certs)
    except SignatureError as exc:
        exc.context = _reply_context_unverified(der)
        raise
    attrs = verified.attributes
    message_type = _enum(MessageType, _number(attrs, "scep_message_type"), "messageType")
    tid = _text(attrs, "scep_transaction_id")
    nonce = _octets(attrs, "scep_sender_nonce")
    if message_type is None:
        raise MissingAttribute("messageType")
    if tid is None:
        raise MissingAttribute("transactionID")
    if not nonce:
        raise MissingAttribute("senderNonce")
    hresult = _number(attrs, "ms_scep_error")
    message = SignedMessage(
        message_type=message_type,
        transaction_id=TransactionId(tid),
        sender_nonce=nonce,
        signer=verified.signer,
        digest=verified.digest,
        envelope=verified.content or None,
        recipient_nonce=_octets(attrs, "scep_recipient_nonce"),
        pki_status=_enum(PkiStatus, _number(attrs, "scep_pki_status"), "pkiStatus"),
        fail_info=_enum(FailInfo, _number(attrs, "scep_fail_info"), "failInfo"),
        fail_info_text=_text(attrs, "scep_fail_info_text"),
        hresult=hresult,
        signing_time_present="signing_time" in attrs,
        certificates=verified.certificates,
    )
    if message_type is MessageType.CERT_REP and message.pki_status is None:
        raise MissingAttribute("pkiStatus")
    return message


def open_request(
    der: bytes,
    *,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
    extra_certs: Sequence[x509.Certificate] = (),
) -> PkiRequest:
    """Verify, decrypt (with the RA encryption certificate and key) and decode a client request."""
    message = parse_message(der, extra_certs=extra_certs)
    try:
        if message.message_type is MessageType.CERT_REP:
            raise DecodeError("a CertRep is not a request")
        if message.envelope is None:
            raise DecodeError("the request carries no pkcsPKIEnvelope")
        opened = envelope.decrypt(message.envelope, certificate=certificate, key=key)
        data = decode_message_data(message.message_type, opened.content)
    except ScepError as exc:
        exc.context = message.reply_context
        raise
    return PkiRequest(message=message, cipher=opened.cipher, data=data)


def decode_message_data(message_type: MessageType, content: bytes) -> MessageData:
    asn1.register()
    try:
        if message_type in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ):
            x509.load_der_x509_csr(content)
            return content
        if message_type is MessageType.CERT_POLL:
            ias = asn1.IssuerAndSubject.load(content, strict=True)
            return IssuerAndSubject(name_from_asn1(ias["issuer"]), name_from_asn1(ias["subject"]))
        if message_type in (MessageType.GET_CERT, MessageType.GET_CRL):
            isn = cms.IssuerAndSerialNumber.load(content, strict=True)
            return IssuerAndSerial(name_from_asn1(isn["issuer"]), isn["serial_number"].native)
    except ScepError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DecodeError(f"messageData of {message_type.name} does not decode: {exc}") from exc
    raise DecodeError(f"{message_type.name} is not a request")


def encode_message_data(data: MessageData) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, IssuerAndSubject):
        value = asn1.IssuerAndSubject(
            {"issuer": name_to_asn1(data.issuer), "subject": name_to_asn1(data.subject)}
        )
    else:
        value = cms.IssuerAndSerialNumber(
            {"issuer": name_to_asn1(data.issuer), "serial_number": data.serial_number}
        )
    return bytes(value.dump())


def build_request(
    message_type: MessageType,
    data: MessageData,
    *,
    signer: x509.Certificate,
    key: rsa.RSAPrivateKey,
    recipients: Sequence[x509.Certificate],
    transaction_id: str,
    cipher: ContentCipher = ContentCipher.AES_128_CBC,
    digest: Digest = Digest.SHA256,
    sender_nonce: bytes | None = None,
    signature_style: signed.SignatureStyle = "sha_rsa",
) -> bytes:
    """A client's pkiMessage: messageData encrypted to `recipients`, signed by `signer`."""
    asn1.register()
    enveloped = envelope.encrypt(encode_message_data(data), recipients, cipher=cipher)
    attributes: list[tuple[str, core.Asn1Value]] = [
        ("scep_message_type", core.PrintableString(str(int(message_type)))),
        ("scep_transaction_id", core.PrintableString(transaction_id)),
        ("scep_sender_nonce", core.OctetString(sender_nonce or new_nonce())),
    ]
    return signed.sign(
        enveloped,
        attributes,
        signer=signer,
        key=key,
        digest=digest,
        certificates=[signer],
        signature_style=signature_style,
    )
