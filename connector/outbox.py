"""The connector's durable outbox, as values and ports: what a status report is, how long to wait
before trying again, and the two ports the delivery worker needs (a store and a sender).

The promise: every success or failure report the NDES policy module hands over reaches the cloud
exactly once *in effect*. The store commits a report before the module is answered; the worker
sends it, then records the outcome, so a crash between the two resends it, and the cloud treats
a report for a transaction ID it already holds as a repeat. Nothing here ever gives up: a report
that could not be delivered waits (capped exponential backoff) and is tried again until it is.

Pure domain code: no web framework, HTTP client or database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, NewType, Protocol

from shared.api.intune import FailureNotification, SuccessNotification

ReportId = NewType("ReportId", int)
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
JsonObject = dict[str, JsonValue]

BACKOFF_BASE = dt.timedelta(seconds=1)
BACKOFF_CAP = dt.timedelta(minutes=5)


class ReportKind(StrEnum):
    """Which ScepAction delivers the report: `successNotification` or `failureNotification`."""

    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Report:
    """One status report to deliver. `body` is the JSON the cloud receives, as a dict (the wire
    models are `SuccessNotification` and `FailureNotification`); `transaction_id` is the SCEP
    transaction ID, tenant-free: together with `kind` and `request_digest` it identifies the
    report."""

    kind: ReportKind
    transaction_id: str
    body: JsonObject = field(hash=False)
    created_at: dt.datetime

    def __post_init__(self) -> None:
        if not self.transaction_id:
            raise ValueError("a report needs a transaction ID")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be an aware datetime")

    @property
    def request_digest(self) -> str:
        """SHA-256 (hex) of the `certificateRequest` the report is about. Part of the report's
        identity: clients that derive the transaction ID from their key (micromdm's scepclient,
        early SCEP drafts) reuse it when they renew with the same key, and that is another
        request with its own report."""
        notification = self.body.get("notification")
        request = notification.get("certificateRequest") if isinstance(notification, dict) else None
        return hashlib.sha256(str(request or "").encode()).hexdigest()

    @classmethod
    def success(cls, notification: SuccessNotification, created_at: dt.datetime) -> Report:
        body: JsonObject = notification.model_dump(mode="json", by_alias=True, exclude_none=True)
        return cls(ReportKind.SUCCESS, notification.notification.transaction_id, body, created_at)

    @classmethod
    def failure(cls, notification: FailureNotification, created_at: dt.datetime) -> Report:
        body: JsonObject = notification.model_dump(mode="json", by_alias=True, exclude_none=True)
        return cls(ReportKind.FAILURE, notification.notification.transaction_id, body, created_at)


class Delivery(StrEnum):
    """The outcome of one attempt. There is no "give up": `RETRY` is tried again until the report
    is `DELIVERED` or `REFUSED`."""

    DELIVERED = "delivered"
    """The cloud answered `Success`."""
    REFUSED = "refused"
    """The cloud answered (200) with another code: it received the report and will not take it.
    Resending changes nothing, so the report is settled: recorded as delivered, with the refusal."""
    RETRY = "retry"
    """The report may not have arrived (network error, timeout, 5xx, 429...): try again later."""


@dataclass(frozen=True)
class SendResult:
    """What a `Sender` made of one attempt; `detail` is the error text or the cloud's refusal
    code and description (never the body: it carries a CSR)."""

    outcome: Delivery
    detail: str = ""

    @classmethod
    def delivered(cls) -> SendResult:
        return cls(Delivery.DELIVERED)

    @classmethod
    def refused(cls, code: str, description: str = "") -> SendResult:
        return cls(Delivery.REFUSED, f"{code}: {description}" if description else code)

    @classmethod
    def retry(cls, error: str) -> SendResult:
        return cls(Delivery.RETRY, error)


class Pending(NamedTuple):
    """A report that is due, with how many attempts it has already had."""

    id: ReportId
    report: Report
    attempts: int


def backoff(
    attempt: int,
    *,
    base: dt.timedelta = BACKOFF_BASE,
    cap: dt.timedelta = BACKOFF_CAP,
    jitter: float = 0.0,
    jitter_key: str = "",
) -> dt.timedelta:
    """The wait after failed attempt number `attempt` (1 for the first): base, 2·base, 4·base...
    capped at `cap`. With `jitter` in [0, 1), the wait is shortened by up to that fraction, by an
    amount derived from `jitter_key` and `attempt` (deterministic: the same key waits the same),
    so that reports that failed together do not all come back together."""
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter is a fraction in [0, 1)")
    if base <= dt.timedelta(0) or cap < base:
        raise ValueError("need 0 < base <= cap")
    doublings = min(attempt - 1, 62)
    ratio = cap / base
    delay = cap if 2**doublings >= ratio else base * 2**doublings
    if jitter:
        digest = hashlib.sha256(f"{jitter_key}:{attempt}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        delay -= delay * (jitter * fraction)
    return delay


class OutboxStore(Protocol):
    """Where reports wait. Every method commits before it returns."""

    async def add(self, report: Report) -> ReportId:
        """Keep `report` durably; adding a report with the same transaction ID and kind again
        keeps the first and returns its ID."""
        ...

    async def due(self, now: dt.datetime, limit: int) -> list[Pending]:
        """Undelivered reports whose next attempt is at or before `now`, oldest first."""
        ...

    async def mark_delivered(
        self, report_id: ReportId, now: dt.datetime, *, refusal: str | None = None
    ) -> None:
        """Settle the report: delivered, or refused by the cloud (`refusal` says how)."""
        ...

    async def mark_failed_attempt(
        self, report_id: ReportId, now: dt.datetime, next_at: dt.datetime, error: str
    ) -> None:
        """Count one more failed attempt; try again at `next_at`."""
        ...

    async def pending_count(self) -> int:
        """How many reports are not yet delivered."""
        ...


class Sender(Protocol):
    """Delivers one report to the cloud. Returns `RETRY` (or raises) when it may not have
    arrived; `REFUSED` when the cloud answered with a code other than `Success`."""

    async def send(self, report: Report) -> SendResult: ...
