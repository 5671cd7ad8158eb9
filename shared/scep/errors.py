"""The codec's exceptions. Each maps to the failInfo a server answers with.

ScepError
├── DecodeError            malformed DER, wrong content types, bad values  → badRequest
│   └── MissingAttribute   a required signed attribute is absent           → badRequest
├── SignatureError         the signed layer does not verify                → badMessageCheck
├── DecryptError           no RecipientInfo for us, wrong key, bad padding → badMessageCheck
└── UnsupportedAlgorithm   a digest, cipher or key transport we do not do  → badAlg
"""

from __future__ import annotations

from .types import FailInfo, ReplyContext


class ScepError(Exception):
    """Root of the codec's errors.

    `context` is set when the request's transactionID and senderNonce could be read, so that a
    server can still answer with a signed CertRep FAILURE rather than an HTTP error.
    """

    fail_info: FailInfo = FailInfo.BAD_REQUEST
    context: ReplyContext | None = None


class DecodeError(ScepError):
    fail_info = FailInfo.BAD_REQUEST


class MissingAttribute(DecodeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"required signed attribute {name} is missing")
        self.name = name


class SignatureError(ScepError):
    fail_info = FailInfo.BAD_MESSAGE_CHECK


class DecryptError(ScepError):
    fail_info = FailInfo.BAD_MESSAGE_CHECK


class UnsupportedAlgorithm(ScepError):
    fail_info = FailInfo.BAD_ALG
