"""SCEP (RFC 8894) with NDES's quirks: a pure codec — bytes in, values out, no I/O.

Servers call `open_request` then one of `build_success`, `build_failure`, `build_pending`;
clients call `build_request` then `read_cert_rep`. Errors are `ScepError`s carrying the failInfo
to answer with.
"""

from __future__ import annotations

from .certrep import (
    build_failure,
    build_pending,
    build_success,
    read_cert_rep,
    reply_cipher,
    signed_hresult,
)
from .certs import (
    CA_CERT,
    CA_RA_CERT,
    NEXT_CA_CERT,
    PKI_MESSAGE,
    build_caps,
    build_certs_only,
    build_next_ca_cert,
    encryption_recipient,
    parse_caps,
    parse_certs_only,
)
from .errors import (
    DecodeError,
    DecryptError,
    MissingAttribute,
    ScepError,
    SignatureError,
    UnsupportedAlgorithm,
)
from .message import (
    build_request,
    decode_message_data,
    new_nonce,
    open_request,
    parse_message,
)
from .types import (
    Capability,
    CertRepResult,
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

__all__ = [
    "CA_CERT",
    "CA_RA_CERT",
    "NEXT_CA_CERT",
    "PKI_MESSAGE",
    "Capability",
    "CertRepResult",
    "ContentCipher",
    "DecodeError",
    "DecryptError",
    "Digest",
    "FailInfo",
    "IssuerAndSerial",
    "IssuerAndSubject",
    "MessageData",
    "MessageType",
    "MissingAttribute",
    "PkiRequest",
    "PkiStatus",
    "ReplyContext",
    "ScepError",
    "SignatureError",
    "SignedMessage",
    "TransactionId",
    "UnsupportedAlgorithm",
    "build_caps",
    "build_certs_only",
    "build_failure",
    "build_next_ca_cert",
    "build_pending",
    "build_request",
    "build_success",
    "decode_message_data",
    "encryption_recipient",
    "new_nonce",
    "open_request",
    "parse_caps",
    "parse_certs_only",
    "parse_message",
    "read_cert_rep",
    "reply_cipher",
    "signed_hresult",
]
