"""The outbox's values and retry policy: pure, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.outbox import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    Delivery,
    Report,
    ReportKind,
    SendResult,
    backoff,
)
from shared.api.intune import (
    FailureNotification,
    FailureNotificationBody,
    SuccessNotification,
    SuccessNotificationBody,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_backoff_doubles_from_one_second_to_a_five_minute_cap() -> None:
    waits = [backoff(n).total_seconds() for n in range(1, 12)]
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_is_monotone_and_capped(attempt: int) -> None:
    assert BACKOFF_BASE <= backoff(attempt) <= backoff(attempt + 1) <= BACKOFF_CAP


@given(st.integers(min_value=1, max_value=200), st.text(max_size=40))
def test_jitter_is_deterministic_and_only_shortens(attempt: int, key: str) -> None:
    plain = backoff(attempt)
    jittered = backoff(attempt, jitter=0.2, jitter_key=key)
    assert jittered == backoff(attempt, jitter=0.2, jitter_key=key)
    assert plain * 0.8 <= jittered <= plain


def test_jitter_spreads_reports_that_failed_together() -> None:
    waits = {backoff(5, jitter=0.5, jitter_key=f"tx-{n}") for n in range(20)}
    assert len(waits) > 10


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempt": 0},
        {"attempt": 1, "jitter": 1.0},
        {"attempt": 1, "jitter": -0.1},
        {"attempt": 1, "base": dt.timedelta(0)},
        {"attempt": 1, "cap": dt.timedelta(milliseconds=1)},
    ],
)
def test_backoff_rejects_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        backoff(**kwargs)  # type: ignore[arg-type]


def test_a_success_report_carries_the_wire_body() -> None:
    wire = SuccessNotification(
        notification=SuccessNotificationBody(
            transaction_id="tx-1",
            certificate_request="TUlJQw==",
            certificate_thumbprint="ab" * 20,
            certificate_serial_number="01",
            certificate_expiration_date_utc="2027-01-01T00:00:00Z",
            issuing_certificate_authority="CN=Issuing",
        )
    )
    report = Report.success(wire, T0)
    assert (report.kind, report.transaction_id) == (ReportKind.SUCCESS, "tx-1")
    assert report.body["notification"]["transactionId"] == "tx-1"  # type: ignore[index,call-overload]
    assert SuccessNotification.model_validate(report.body) == wire


def test_a_failure_report_carries_the_wire_body() -> None:
    wire = FailureNotification(
        notification=FailureNotificationBody(
            transaction_id="tx-2", certificate_request="TUlJQw==", h_result=-2146875374
        )
    )
    report = Report.failure(wire, T0)
    assert report.kind is ReportKind.FAILURE
    assert FailureNotification.model_validate(report.body) == wire


def test_a_report_is_frozen_and_checked() -> None:
    report = Report(ReportKind.SUCCESS, "tx", {}, T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.transaction_id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="transaction ID"):
        Report(ReportKind.SUCCESS, "", {}, T0)
    with pytest.raises(ValueError, match="aware"):
        Report(ReportKind.SUCCESS, "tx", {}, T0.replace(tzinfo=None))


def test_send_results_say_what_happened() -> None:
    assert SendResult.delivered().outcome is Delivery.DELIVERED
    assert SendResult.retry("timeout") == SendResult(Delivery.RETRY, "timeout")
    assert SendResult.refused("ChallengeExpired", "too late").detail == "ChallengeExpired: too late"
    assert {d.value for d in Delivery} == {"delivered", "refused", "retry"}  # no "give up"
