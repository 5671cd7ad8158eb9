"""The trace in the terminal: one enrolment as a sequence diagram, and the recent transactions.

Lanes, left to right: device (or whatever else called in: a real scepclient is "client"), NDES,
NDES's Intune policy module, the connector, the cloud, the CA; only those that took part are
drawn. A message is one arrow: what its receiver recorded (with the answer's outcome), or what its
sender recorded when the receiver never got it. Rendering only: the caller reads the events.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from shared.trace import TraceEvent, timeline, transactions

from .explain import explain, payload_lines

LANES = ("device", "ndes", "policy-module", "connector", "cloud", "ca")
GUTTER = 9
_COLOURS = {"ok": "green", "refused": "red", "error": "red", "unreachable": "red"}


@dataclass(frozen=True)
class Message:
    """One message: the event drawn (the receiver's, else the sender's), and the sender's."""

    event: TraceEvent
    sent: TraceEvent | None = None

    @property
    def sender(self) -> str:
        return self.event.peer if self.event.direction == "received" else self.event.party

    @property
    def receiver(self) -> str:
        return self.event.party if self.event.direction == "received" else self.event.peer

    @property
    def at(self) -> str:
        return (self.sent or self.event).at

    @property
    def label(self) -> str:
        kind = _dict(self.event.summary).get("message_type")
        return f"{self.event.operation} {kind}" if isinstance(kind, str) else self.event.operation

    @property
    def result(self) -> str:
        summary = _dict(self.event.summary)
        said = (
            _dict(summary.get("reply")).get("status"),  # NDES's CertRep
            summary.get("disposition"),  # the CA's
            summary.get("decision"),  # the cloud's validation
            summary.get("intune_code"),  # the connector's verify
            summary.get("state"),  # a device's report
        )
        word = next((w for w in said if isinstance(w, str)), None)
        status = word if word is not None else self.event.status
        return f"{self.event.outcome} {status}" if status is not None else self.event.outcome


def pair_messages(events: Iterable[TraceEvent]) -> list[Message]:
    """One `Message` per message: a received event with the sent event of the same correlation
    ID, operation, sender and receiver (in time order), then the sent events nobody received."""
    ordered = sorted(events, key=lambda e: e.at)
    waiting: dict[tuple[str, str, str, str], deque[TraceEvent]] = defaultdict(deque)
    for e in ordered:
        if e.direction == "sent" and e.outcome != "unreachable":
            waiting[(e.correlation_id, e.operation, e.party, e.peer)].append(e)
    messages: list[Message] = []
    for e in ordered:
        if e.direction == "received":
            queue = waiting.get((e.correlation_id, e.operation, e.peer, e.party))
            messages.append(Message(e, queue.popleft() if queue else None))
    paired = {id(m.sent) for m in messages if m.sent is not None}
    messages += [Message(e) for e in ordered if e.direction == "sent" and id(e) not in paired]
    return sorted(messages, key=lambda m: m.at)


def select_transaction(events: Sequence[TraceEvent], transaction_id: str) -> list[TraceEvent]:
    """`timeline`, plus the device check-in that handed out the challenge the transaction used
    (joined by `challenge_id`, when the cloud records one) and what shares its correlation ID."""
    chosen = timeline(events, transaction_id)
    claims = (_dict(_dict(e.summary).get("challenge")).get("challenge_id") for e in chosen)
    used = {given for given in claims if isinstance(given, str)}
    checkins = {
        e.correlation_id
        for e in events
        if e.operation == "checkin"
        and any(
            isinstance(given := _dict(c).get("challenge_id"), str) and given in used
            for c in _list(_dict(e.summary).get("challenges"))
        )
    }
    kept = {id(e) for e in chosen}
    return [e for e in events if id(e) in kept or e.correlation_id in checkins]


@dataclass(frozen=True)
class _Layout:
    names: list[str]
    slots: dict[int, int]
    centers: list[int]
    lanes_w: int
    label_w: int
    result_w: int


ALIASES = {"ndes-general": "ndes"}
"""Parties drawn in another's lane (the general-workflow NDES beside Intune's)."""


def _slot(name: str) -> int:
    name = ALIASES.get(name, name)
    return LANES.index(name) if name in LANES else 0


def _lane_name(slot: int, seen: Sequence[str]) -> str:
    names = [n for n in dict.fromkeys(seen) if _slot(n) == slot]
    return "/".join(names) or LANES[slot]


def _layout(messages: Sequence[Message], width: int) -> _Layout:
    slots = sorted({_slot(n) for m in messages for n in (m.sender, m.receiver)})
    guests = list(
        dict.fromkeys(n for m in messages for n in (m.sender, m.receiver) if not _slot(n))
    )
    seen = [n for m in messages for n in (m.sender, m.receiver)]
    names = [("/".join(guests) or LANES[0]) if s == 0 else _lane_name(s, seen) for s in slots]
    result_w = min(max(7, *(len(m.result) for m in messages)), 16)
    label_w, lanes = min(max(7, *(len(m.label) for m in messages)), 22), len(names)
    left, right = (len(names[0]) + 1) // 2, len(names[-1]) // 2 + 1
    step = 0
    while lanes > 1:
        room = width - GUTTER - 2 - label_w - result_w - left - right
        step = max(3, min(room // (lanes - 1), 16))
        if step >= 6 or label_w <= 10:
            break
        label_w -= 1
    centers = [left + i * step for i in range(lanes)]
    slot_lane = {slot: i for i, slot in enumerate(slots)}
    return _Layout(names, slot_lane, centers, centers[-1] + right, label_w, result_w)


def _header(layout: _Layout) -> list[Text]:
    """Lane names centred on their lanes: on two staggered lines when they would touch."""
    step = layout.centers[1] - layout.centers[0] if len(layout.centers) > 1 else 99
    one_line = all((len(a) + len(b)) // 2 + 2 <= step for a, b in itertools.pairwise(layout.names))
    rows = [[" "] * layout.lanes_w for _ in range(1 if one_line else 2)]
    for i, (name, centre) in enumerate(zip(layout.names, layout.centers, strict=True)):
        limit = step - 1 if one_line else 2 * step - 1
        name = name if len(name) <= limit else name[: max(limit - 1, 1)] + "…"
        row = rows[0 if one_line else i % 2]
        start = max(0, min(centre - (len(name) - 1) // 2, layout.lanes_w - len(name)))
        row[start : start + len(name)] = list(name)
    lines = [Text(" " * GUTTER + "".join(row), style="bold") for row in rows]
    for line in lines[:-1]:
        line.rstrip()
    lines[-1] = Text("time".rjust(GUTTER - 1) + " ", style="dim") + lines[-1][GUTTER:]
    lines[-1].append(" " + "message".ljust(layout.label_w) + " outcome", style="dim")
    return lines


def _lanes(layout: _Layout, message: Message) -> Text:
    chars, styles = [" "] * layout.lanes_w, ["dim"] * layout.lanes_w
    for centre in layout.centers:
        chars[centre] = "│"
    colour = _COLOURS.get(message.event.outcome, "yellow")
    s = layout.centers[layout.slots[_slot(message.sender)]]
    r = layout.centers[layout.slots[_slot(message.receiver)]]
    lost, way = message.event.outcome == "unreachable", 1 if r >= s else -1
    for i in range(s, r, way) if s != r else (s,):
        chars[i], styles[i] = "─", colour
    chars[s] = "├" if way > 0 else "┤"
    head = r - way * (2 if lost else 1)
    if s == r:
        chars[s] = "●"
    elif lost:
        chars[head], chars[r - way] = "✕", " "
    else:
        chars[head] = "▶" if way > 0 else "◀"
    text = Text()
    for char, style in zip(chars, styles, strict=True):
        text.append(char, style=style)
    return text


def _offset(at: str, start: datetime | None) -> str:
    moment = _time(at)
    if moment is None or start is None:
        return "?".rjust(GUTTER - 1) + " "
    return f"+{(moment - start).total_seconds():.3f}s".rjust(GUTTER - 1) + " "


def render_timeline(
    console: Console, events: Sequence[TraceEvent], *, verbose: bool = False
) -> None:
    """One transaction (or any events) as a sequence diagram: a row per message, the outcome,
    a plain-language line under each failure, and with `verbose` the decoded payloads."""
    messages = pair_messages(events)
    if not messages:
        console.print("no traced messages")
        return
    ids = Counter(e.transaction_id for e in events if e.transaction_id)
    starts = [t for t in (_time(e.at) for e in events) if t is not None]
    start = min(starts) if starts else None
    title = f"transaction {ids.most_common(1)[0][0]}" if ids else "messages without transaction"
    when = start.strftime("%Y-%m-%d %H:%M:%S UTC") if start else ""
    console.print(Text(f"{title}  ·  {when}  ·  {len(messages)} messages", style="bold"))
    layout = _layout(messages, console.width)
    for line in _header(layout):
        console.print(line, no_wrap=True, overflow="crop")
    for message in messages:
        row = Text(_offset(message.at, start)) + _lanes(layout, message)
        row.append(" " + message.label[: layout.label_w].ljust(layout.label_w), style="bold")
        row.append(" " + message.result, style=_COLOURS.get(message.event.outcome, "yellow"))
        console.print(row, no_wrap=True, overflow="crop")
        why = explain(message.event)
        if why:
            note = Table.grid(padding=(0, 1))
            note.add_row(Text("↳", style="red"), Text(why, style="red"))
            console.print(Padding(note, (0, 0, 0, GUTTER), expand=False))
        if verbose:
            _print_payload(console, message)


def _print_payload(console: Console, message: Message) -> None:
    event = message.event
    data: dict[str, Any] = {**_dict(message.sent.summary if message.sent else {})}
    data |= _dict(event.summary)
    data |= {"reason": event.reason, "elapsed_ms": event.elapsed_ms}
    for depth, key, value in payload_lines(data):
        line = Text("-" if key == "-" else f"{key}:", style="cyan")
        line.append(f" {value}" if value else "")
        console.print(Padding(line, (0, 0, 0, GUTTER + 2 + 2 * depth), expand=False))


def transaction_rows(events: Sequence[TraceEvent], limit: int = 20) -> list[dict[str, str]]:
    """The `limit` most recent transactions (newest last): time, ID, subject, final outcome."""
    rows = []
    for tx in transactions(events)[-limit:]:
        chosen = timeline(events, tx)
        rows.append(
            {
                "at": chosen[0].at if chosen else "",
                "transaction_id": tx,
                "subject": subject_of(chosen),
                "outcome": final_outcome(chosen),
            }
        )
    return rows


def render_list(console: Console, events: Sequence[TraceEvent]) -> None:
    """The recent transactions as a table, newest last."""
    table = Table(title="recent transactions (newest last)", title_justify="left")
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("transaction", no_wrap=True)
    table.add_column("subject / device", overflow="fold")
    table.add_column("outcome")
    for row in transaction_rows(events):
        moment = _time(row["at"])
        when = moment.strftime("%m-%d %H:%M:%S") if moment else row["at"]
        colour = "green" if row["outcome"].startswith(("issued", "ok")) else "red"
        tx = row["transaction_id"]
        tx = tx if len(tx) <= 16 else tx[:15] + "…"
        table.add_row(when, tx, row["subject"], Text(row["outcome"], colour))
    console.print(table)


def subject_of(events: Sequence[TraceEvent]) -> str:
    for event in events:
        summary = _dict(event.summary)
        for found in (
            _dict(summary.get("csr")).get("subject"),
            summary.get("subject"),
            _dict(summary.get("challenge")).get("device_name"),
            _dict(summary.get("challenge")).get("device_id"),
        ):
            if isinstance(found, str) and found:
                return found
    return ""


def final_outcome(events: Sequence[TraceEvent]) -> str:
    codes = [e.reason.get("intune_code") for e in events if _dict(e.reason).get("intune_code")]
    code = f" · {codes[-1]}" if codes else ""
    replies = [_dict(_dict(e.summary).get("reply")).get("status") for e in events]
    status = next((r for r in reversed(replies) if isinstance(r, str)), None)
    if status is not None:
        word = {"SUCCESS": "issued", "FAILURE": "refused", "PENDING": "pending"}.get(status, status)
        return word + (code if status == "FAILURE" else "")
    failed = [e.outcome for e in events if e.outcome != "ok"]
    return (failed[-1] + code) if failed else "ok"


def _time(at: str) -> datetime | None:
    try:
        return datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
