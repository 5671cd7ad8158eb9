"""The trace as the console's JSON: the transactions, and one transaction's messages.

The same reading as `scep-lab trace` (shared.trace's timeline, lab.trace_view's pairing of
sent and received events, lab.explain's reasons and what may be shown of a payload): the console
draws what the terminal prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from shared.trace import TraceEvent, transactions

from ..explain import explain, shown
from ..trace_view import (
    LANES,
    Message,
    final_outcome,
    pair_messages,
    select_transaction,
    subject_of,
)

OTHER_LANES = ("client", "admin", "ndes-general")
"""Lanes besides the six of an Intune enrolment: a real scepclient, the lab's own calls, the
one-time-password NDES."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ms(start: str, end: str) -> int:
    try:
        return round(
            (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000
        )
    except (TypeError, ValueError):
        return 0


def _profile_names(events: Sequence[TraceEvent]) -> dict[str, str]:
    """Profile ids to names, from what the cloud handed out at check-ins."""
    names: dict[str, str] = {}
    for event in events:
        for given in event.summary.get("challenges", []) or []:
            if isinstance(given, dict) and given.get("profile_id") and given.get("profile_name"):
                names[str(given["profile_id"])] = str(given["profile_name"])
    return names


def _device_names(events: Sequence[TraceEvent]) -> dict[str, str]:
    names: dict[str, str] = {}
    for event in events:
        device = _dict(event.summary.get("device"))
        if device.get("id") and device.get("name"):
            names[str(device["id"])] = str(device["name"])
    return names


def transaction_list(events: Sequence[TraceEvent], limit: int = 500) -> list[dict[str, Any]]:
    """The `limit` most recent transactions, newest last, with device, profile, outcome and
    duration."""
    by_correlation: dict[str, list[TraceEvent]] = defaultdict(list)
    correlations_of: dict[str, set[str]] = defaultdict(set)
    for event in events:
        by_correlation[event.correlation_id].append(event)
        if event.transaction_id:
            correlations_of[event.transaction_id].add(event.correlation_id)
    names = _profile_names(events), _device_names(events)
    rows = []
    for tx in transactions(events)[-limit:]:
        chosen = sorted(
            (e for c in correlations_of[tx] for e in by_correlation[c]), key=lambda e: e.at
        )
        if chosen:
            rows.append(_row(tx, chosen, *names))
    return rows


def _row(
    tx: str, chosen: list[TraceEvent], profiles: dict[str, str], devices: dict[str, str]
) -> dict[str, Any]:
    """One transaction's line: `chosen` are its events, in time order."""
    claims = next(
        (_dict(e.summary.get("challenge")) for e in chosen if e.summary.get("challenge")), {}
    )
    device = (
        claims.get("device_name")
        or devices.get(str(claims.get("device_id")))
        or _common_name(subject_of(chosen))
    )
    profile_id = claims.get("profile_id")
    outcome = final_outcome(chosen)
    return {
        "id": tx,
        "at": chosen[0].at,
        "device": device or "",
        "profile": profiles.get(str(profile_id), str(profile_id or "")),
        "subject": subject_of(chosen),
        "outcome": outcome,
        "ok": outcome.startswith(("issued", "ok")),
        "duration_ms": _ms(chosen[0].at, chosen[-1].at),
        "correlation_id": chosen[0].correlation_id,
    }


def _common_name(subject: str) -> str:
    """The CN of an RFC 4514 subject (escaped commas and all), else the subject."""
    try:
        names = x509.Name.from_rfc4514_string(subject).get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return subject
    return str(names[0].value) if names else subject


def transaction_detail(events: Sequence[TraceEvent], key: str) -> dict[str, Any] | None:
    """One transaction (by transaction or correlation ID): its lanes and its messages, each
    with what may be shown of its payload and, for a failure, the reason in plain words."""
    chosen = select_transaction(events, key)
    if not chosen:
        return None
    messages = pair_messages(chosen)
    start = messages[0].at if messages else chosen[0].at
    seen = {m.sender for m in messages} | {m.receiver for m in messages}
    lanes = [lane for lane in (*OTHER_LANES[:2], *LANES, OTHER_LANES[2]) if lane in seen]
    lanes += sorted(seen - set(lanes))
    # the transaction's own hops, as the list has them (not the check-in before it)
    mine = {e.correlation_id for e in chosen if key in (e.transaction_id, e.correlation_id)}
    own = sorted((e for e in chosen if e.correlation_id in mine), key=lambda e: e.at)
    row = _row(key, own or chosen, _profile_names(events), _device_names(events))
    return row | {
        "lanes": lanes,
        "messages": [_message(n, m, start) for n, m in enumerate(messages)],
    }


def _message(n: int, message: Message, start: str) -> dict[str, Any]:
    event = message.event
    return {
        "n": n,
        "at": message.at,
        "offset_ms": _ms(start, message.at),
        "from": message.sender,
        "to": message.receiver,
        "label": message.label,
        "result": message.result,
        "outcome": event.outcome,
        "status": event.status,
        "elapsed_ms": event.elapsed_ms,
        "recorded_by": event.party,
        "summary": shown(event.summary),
        "reason": shown(event.reason),
        "explanation": explain(event),
    }


def message_line(event: TraceEvent) -> dict[str, Any] | None:
    """One message in a line, `ndes → ca submit: ok ISSUED`, from the event its receiver
    recorded, or from its sender's when it never arrived (so each message once); None for a
    sent event that arrived."""
    if event.direction == "sent" and event.outcome != "unreachable":
        return None
    message = Message(event)
    text = f"{message.sender} → {message.receiver} {message.label}: {message.result}"
    return {"text": text, "ok": event.outcome == "ok"}


def event_json(event: TraceEvent) -> dict[str, Any]:
    """One trace event as the live stream sends it (nothing secret), with its `message` line."""
    return {
        "message": message_line(event),
        "at": event.at,
        "party": event.party,
        "peer": event.peer,
        "direction": event.direction,
        "operation": event.operation,
        "correlation_id": event.correlation_id,
        "transaction_id": event.transaction_id,
        "outcome": event.outcome,
        "status": event.status,
        "summary": shown(event.summary),
        "reason": shown(event.reason),
    }
