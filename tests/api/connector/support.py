"""Helpers for the outbox tests: reports, and senders that record what they sent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from connector.outbox import Report, SendResult
from shared.api.intune import (
    FailureNotification,
    FailureNotificationBody,
    SuccessNotification,
    SuccessNotificationBody,
)

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def success_report(
    transaction_id: str, at: dt.datetime = T0, request: str = "TUlJQ0NTUj0="
) -> Report:
    return Report.success(
        SuccessNotification(
            notification=SuccessNotificationBody(
                transactionId=transaction_id,
                certificateRequest=request,
                certificateThumbprint="ab" * 20,
                certificateSerialNumber="1f2e3d",
                certificateExpirationDateUtc="2027-01-01T12:00:00Z",
                issuingCertificateAuthority="CN=Lab Issuing CA",
            )
        ),
        at,
    )


def failure_report(transaction_id: str, at: dt.datetime = T0) -> Report:
    return Report.failure(
        FailureNotification(
            notification=FailureNotificationBody(
                transactionId=transaction_id,
                certificateRequest="TUlJQ0NTUj0=",
                hResult=-2146875374,
                errorDescription="denied by policy",
            )
        ),
        at,
    )


class ScriptedSender:
    """Answers from a script (then `default`), and records every report it was given."""

    def __init__(
        self, script: Iterable[SendResult] = (), default: SendResult | None = None
    ) -> None:
        self.script = list(script)
        self.default = default or SendResult.delivered()
        self.sent: list[Report] = []

    async def send(self, report: Report) -> SendResult:
        self.sent.append(report)
        return self.script.pop(0) if self.script else self.default


class DownSender:
    """A cloud that is never there: every attempt raises."""

    def __init__(self) -> None:
        self.attempts = 0

    async def send(self, report: Report) -> SendResult:
        self.attempts += 1
        raise ConnectionError("cloud unreachable")
