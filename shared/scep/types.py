"""SCEP's codes and values (RFC 8894 §3.2.1, NDES's additions), as enums and frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NewType

from cryptography import x509

TransactionId = NewType("TransactionId", str)
"""Opaque PrintableString chosen by the client; echoed verbatim (RFC 8894 §3.2.1.1)."""


class MessageType(IntEnum):
    CERT_REP = 3
    RENEWAL_REQ = 17
    PKCS_REQ = 19
    CERT_POLL = 20
    GET_CERT = 21
    GET_CRL = 22


class PkiStatus(IntEnum):
    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class FailInfo(IntEnum):
    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4


class ContentCipher(StrEnum):
    """Content-encryption algorithms; DES_CBC is accepted on input only, never emitted."""

    DES_CBC = "des"
    DES_EDE3_CBC = "tripledes_3key"
    AES_128_CBC = "aes128_cbc"
    AES_256_CBC = "aes256_cbc"


class Digest(StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"


class Capability(StrEnum):
    """GetCACaps keywords, spelled exactly as RFC 8894 Table 7 (servers emit this case)."""

    AES = "AES"
    DES3 = "DES3"
    GET_NEXT_CA_CERT = "GetNextCACert"
    POST_PKI_OPERATION = "POSTPKIOperation"
    RENEWAL = "Renewal"
    SHA1 = "SHA-1"
    SHA256 = "SHA-256"
    SHA512 = "SHA-512"
    SCEP_STANDARD = "SCEPStandard"
    UPDATE = "Update"


@dataclass(frozen=True)
class IssuerAndSubject:
    """messageData of CertPoll: the issuer of the wanted certificate and the requested subject."""

    issuer: x509.Name
    subject: x509.Name


@dataclass(frozen=True)
class IssuerAndSerial:
    """messageData of GetCert and GetCRL."""

    issuer: x509.Name
    serial_number: int


MessageData = bytes | IssuerAndSubject | IssuerAndSerial
"""What a request carries inside its envelope: a DER PKCS#10 (PKCSReq, RenewalReq), or the names."""


@dataclass(frozen=True)
class ReplyContext:
    """What a CertRep must echo from the request it answers (RFC 8894 §3.3.2)."""

    transaction_id: TransactionId
    sender_nonce: bytes
    digest: Digest
    signer: x509.Certificate | None = None
    """The request's signer: a SUCCESS is encrypted to its key. None when unknown."""


@dataclass(frozen=True)
class SignedMessage:
    """The outer layer of a pkiMessage, parsed and its signature verified; envelope still closed."""

    message_type: MessageType
    transaction_id: TransactionId
    sender_nonce: bytes
    signer: x509.Certificate
    digest: Digest
    envelope: bytes | None
    """DER of the EnvelopedData ContentInfo; None for a CertRep FAILURE or PENDING."""
    recipient_nonce: bytes | None = None
    pki_status: PkiStatus | None = None
    fail_info: FailInfo | None = None
    fail_info_text: str | None = None
    hresult: int | None = None
    signing_time_present: bool = False
    certificates: tuple[x509.Certificate, ...] = field(default=())
    """Every certificate SignedData carried (the signer among them)."""

    @property
    def reply_context(self) -> ReplyContext:
        return ReplyContext(self.transaction_id, self.sender_nonce, self.digest, self.signer)


@dataclass(frozen=True)
class Envelope:
    """An opened EnvelopedData: the plaintext and how it was protected."""

    content: bytes
    cipher: ContentCipher
    key_transport: str
    """'rsaes_pkcs1v15' or 'rsaes_oaep'."""


@dataclass(frozen=True)
class PkiRequest:
    """A request from a client, opened: outer attributes plus the decrypted messageData."""

    message: SignedMessage
    cipher: ContentCipher
    data: MessageData

    @property
    def message_type(self) -> MessageType:
        return self.message.message_type

    @property
    def transaction_id(self) -> TransactionId:
        return self.message.transaction_id

    @property
    def csr_der(self) -> bytes:
        """The PKCS#10 of a PKCSReq or RenewalReq."""
        if not isinstance(self.data, bytes):
            raise TypeError(f"{self.message_type.name} carries no CSR")
        return self.data


@dataclass(frozen=True)
class CertRepResult:
    """A CertRep as a client sees it after verifying and, for SUCCESS, decrypting it."""

    status: PkiStatus
    transaction_id: TransactionId
    recipient_nonce: bytes | None
    sender_nonce: bytes
    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    fail_info: FailInfo | None = None
    fail_info_text: str | None = None
    hresult: int | None = None
