"""Requests the CA holds as pending (AD CS disposition 9), by SCEP transaction ID.

The device polls with CertPoll (or, like micromdm's scepclient, re-sends the same PKCSReq) under
the same transaction ID; NDES asks the CA again with the request ID it kept. Kept in memory: a
restarted NDES forgets them and the device must start over with a new request (RFC 8894 §5.2
"resync"). That is the only state NDES would need to keep across restarts, and it is not kept
for now.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509

from shared.scep import TransactionId


@dataclass(frozen=True)
class PendingTransaction:
    transaction_id: TransactionId
    request_id: int
    csr_der: bytes
    subject: x509.Name
    requester_key: bytes
    """SubjectPublicKeyInfo DER of the certificate that signed the request: polls must match."""
    template: str
    created_at: dt.datetime
    challenge: str | None = field(default=None, repr=False)
    """Kept for the policy module's Notify when the request finally resolves; never logged."""
    renewal_signer: bytes | None = None


class PendingStore:
    def __init__(self) -> None:
        self._by_tid: dict[str, PendingTransaction] = {}

    def __len__(self) -> int:
        return len(self._by_tid)

    def get(self, transaction_id: str) -> PendingTransaction | None:
        return self._by_tid.get(transaction_id)

    def put(self, pending: PendingTransaction) -> None:
        self._by_tid[pending.transaction_id] = pending

    def remove(self, transaction_id: str) -> None:
        self._by_tid.pop(transaction_id, None)
