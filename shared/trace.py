"""The trace: every message a party sends or receives, as an event in that party's own file.

Each party has a `Tracer` (its name and, when tracing is on, a file `<trace_dir>/<party>.jsonl`).
Its ASGI middleware records one `received` event per request it serves; its httpx transport
records one `sent` event per request it makes, including those that never got an answer. A
correlation ID travels in a header from hop to hop, so that the lab can join what NDES, the
connector, the cloud and the CA each saw of one enrolment; the SCEP transaction ID joins the rest.

What a party learns while it handles a message (the transaction ID, the CSR's subject, the
challenge's claims, the Intune code it answered) it adds to the event in hand with `annotate`.
Only what is passed to `annotate` enters a summary: no body, no header but the two below, so no
challenge, key, password or token is written unless a party is careless enough to annotate one.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORRELATION_HEADER = "x-lab-correlation-id"
PARTY_HEADER = "x-lab-party"
Direction = Literal["received", "sent"]
Outcome = Literal["ok", "refused", "error", "unreachable"]
_SCEP_OPERATIONS = {"GetCACaps", "GetCACert", "GetNextCACert", "PKIOperation"}
_QUIET = ("/health", "/docs", "/openapi.json", "/favicon.ico")
OBSERVER = "console"
"""The lab console's reads (GET and HEAD only) carry this party name and are not recorded: it
watches the trace, as /health is not recorded either. Anything else that names it is recorded
(a POST cannot hide); what the console changes it sends as "admin"."""


@dataclass
class TraceEvent:
    at: str
    """Real UTC time, ISO 8601: not a party's virtual clock, as all parties' events are merged."""
    party: str
    peer: str
    direction: Direction
    operation: str
    correlation_id: str
    transaction_id: str | None = None
    outcome: Outcome = "ok"
    status: int | None = None
    elapsed_ms: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    reason: dict[str, Any] = field(default_factory=dict)
    """Why it failed, in the failing protocol's terms: failInfo, HRESULT, Intune code, detail."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TraceEvent:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class TraceLog:
    """One party's events, appended as JSON lines. Thread-safe; each line is written whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, event: TraceEvent) -> None:
        line = event.to_json() + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)


_logs: dict[Path, TraceLog] = {}
_logs_lock = threading.Lock()


def _log_for(path: Path) -> TraceLog:
    """One TraceLog (one lock) per file in a process: several tracers may share a party's file."""
    key = path.resolve()
    with _logs_lock:
        if key not in _logs:
            _logs[key] = TraceLog(key)
        return _logs[key]


_current: contextvars.ContextVar[TraceEvent | None] = contextvars.ContextVar(
    "trace_event", default=None
)


def annotate(
    *,
    transaction_id: str | None = None,
    operation: str | None = None,
    outcome: Outcome | None = None,
    reason: Mapping[str, Any] | None = None,
    **summary: Any,
) -> None:
    """Add to the event of the message being handled (no-op outside one). Summary fields are
    replaced; a `reason` field already set is kept."""
    event = _current.get()
    if event is None:
        return
    if transaction_id:
        event.transaction_id = transaction_id
    if operation:
        event.operation = operation
    if outcome:
        event.outcome = outcome
    if reason:  # the first to say why wins: the deepest layer says it first
        for name, value in reason.items():
            if value is not None:
                event.reason.setdefault(name, value)
    event.summary.update({k: v for k, v in summary.items() if v is not None})


def current_correlation_id() -> str | None:
    event = _current.get()
    return event.correlation_id if event else None


def current_transaction_id() -> str | None:
    event = _current.get()
    return event.transaction_id if event else None


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def operation_of(path: str, query: Mapping[str, str] | None = None) -> str:
    """SCEP's `operation` parameter, else the path's last segment (`validateRequest`, `submit`)."""
    if query:
        named = query.get("operation")
        if named in _SCEP_OPERATIONS:
            return named
    segments = [s for s in path.split("/") if s]
    return segments[-1] if segments else "/"


@contextlib.contextmanager
def activity(
    operation: str, *, transaction_id: str | None = None, correlation_id: str | None = None
) -> Iterator[TraceEvent]:
    """A context for work no request started (an outbox delivery, a revocation pass): what is
    sent inside it carries its transaction ID and one correlation ID. Nothing is recorded for the
    activity itself."""
    event = TraceEvent(
        at=_now(),
        party="",
        peer="self",
        direction="received",
        operation=operation,
        correlation_id=correlation_id or new_correlation_id(),
        transaction_id=transaction_id,
    )
    token = _current.set(event)
    try:
        yield event
    finally:
        _current.reset(token)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Tracer:
    """A party's tracer. With no `trace_dir` it records nothing, but passes correlation IDs on."""

    def __init__(self, party: str, trace_dir: Path | None = None) -> None:
        self.party = party
        self.log = _log_for(trace_dir / f"{party}.jsonl") if trace_dir is not None else None

    @property
    def enabled(self) -> bool:
        return self.log is not None

    def record(self, event: TraceEvent) -> None:
        if self.log is not None:
            self.log.append(event)

    def middleware(self, app: ASGIApp, *, default_peer: str = "client") -> ASGIApp:
        return TraceMiddleware(app, self, default_peer)

    def transport(
        self, peer: str, inner: httpx.AsyncBaseTransport | None = None, **options: Any
    ) -> httpx.AsyncBaseTransport:
        """An httpx transport that passes the correlation ID on and records what it sends.
        `options` build the inner `httpx.AsyncHTTPTransport` when `inner` is not given."""
        return _TracedTransport(self, peer, inner or httpx.AsyncHTTPTransport(**options))


class TraceMiddleware:
    """Records a `received` event for each HTTP request the app serves (not /health, /docs)."""

    def __init__(self, app: ASGIApp, tracer: Tracer, default_peer: str = "client") -> None:
        self.app = app
        self.tracer = tracer
        self.default_peer = default_peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_QUIET):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get(PARTY_HEADER) == OBSERVER and scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        query = dict(httpx.QueryParams(scope.get("query_string", b"").decode("latin-1")))
        event = TraceEvent(
            at=_now(),
            party=self.tracer.party,
            peer=headers.get(PARTY_HEADER) or self.default_peer,
            direction="received",
            operation=operation_of(scope["path"], query),
            correlation_id=headers.get(CORRELATION_HEADER) or new_correlation_id(),
        )
        event.summary["http"] = f"{scope['method']} {scope['path']}"
        started = time.perf_counter()
        status: list[int] = []

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (CORRELATION_HEADER.encode(), event.correlation_id.encode()),
                ]
            await send(message)

        token = _current.set(event)
        try:
            await self.app(scope, receive, send_traced)
        finally:
            _current.reset(token)
            event.status = status[0] if status else 500
            event.elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            if event.outcome == "ok" and event.status >= 400:
                event.outcome = "refused" if event.status < 500 else "error"
            self.tracer.record(event)


class _TracedTransport(httpx.AsyncBaseTransport):
    def __init__(self, tracer: Tracer, peer: str, inner: httpx.AsyncBaseTransport) -> None:
        self.tracer = tracer
        self.peer = peer
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        current = _current.get()
        correlation = current.correlation_id if current else new_correlation_id()
        request.headers[CORRELATION_HEADER] = correlation
        request.headers[PARTY_HEADER] = self.tracer.party
        event = TraceEvent(
            at=_now(),
            party=self.tracer.party,
            peer=self.peer,
            direction="sent",
            operation=operation_of(request.url.path, dict(request.url.params)),
            correlation_id=correlation,
            transaction_id=current.transaction_id if current else None,
        )
        event.summary["http"] = f"{request.method} {request.url.path}"
        started = time.perf_counter()
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            event.outcome = "unreachable"
            event.reason["detail"] = f"{type(exc).__name__}: {exc}"[:300]
            event.elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
            self.tracer.record(event)
            raise
        event.elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        event.status = response.status_code
        if response.status_code >= 400:
            event.outcome = "refused" if response.status_code < 500 else "error"
        self.tracer.record(event)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def read_events(trace_dir: Path) -> list[TraceEvent]:
    """Every party's events under `trace_dir`, in time order. A line cut short by a crash is
    skipped."""
    events: list[TraceEvent] = []
    for path in sorted(trace_dir.glob("*.jsonl")):
        events += parse_lines(path.read_bytes().splitlines())
    events.sort(key=lambda e: e.at)
    return events


def parse_lines(lines: Iterable[bytes]) -> list[TraceEvent]:
    """The events of whole trace lines; a line that is not one (cut short by a crash) is
    skipped."""
    events: list[TraceEvent] = []
    for line in lines:
        try:
            event = TraceEvent.from_mapping(json.loads(line))
        except (ValueError, TypeError, AttributeError):  # not JSON, not an event
            continue
        fields = (event.at, event.correlation_id, event.summary, event.reason)
        if [type(f) for f in fields] == [str, str, dict, dict]:
            events.append(event)
    return events


def timeline(events: Iterable[TraceEvent], key: str) -> list[TraceEvent]:
    """One enrolment, by transaction ID (or by correlation ID): the events that carry it, every
    event that shares a correlation ID with one of them (the hops that did not know the
    transaction ID), and the device's check-in that handed out the challenge it used."""
    events = list(events)
    chosen = [e for e in events if key in (e.transaction_id, e.correlation_id)]
    correlations = {e.correlation_id for e in chosen}
    checkin = _checkin_for(events, chosen)
    if checkin is not None:
        correlations.add(checkin.correlation_id)
    return [e for e in events if e.correlation_id in correlations or e.transaction_id == key]


def _checkin_for(events: list[TraceEvent], chosen: list[TraceEvent]) -> TraceEvent | None:
    """The last check-in (or the lab's `/lab/challenge`) before the request at which the cloud
    gave this device a challenge for the profile the cloud's validation read from the challenge."""
    claims = next(
        (e.summary["challenge"] for e in chosen if isinstance(e.summary.get("challenge"), dict)),
        None,
    )
    if not chosen or claims is None:
        return None
    first = min(e.at for e in chosen)
    found = None
    for event in events:
        if event.at >= first:
            break
        device = event.summary.get("device")
        if (
            event.party == "cloud"
            and event.operation in ("checkin", "challenge")
            and isinstance(device, dict)
            and device.get("id") == claims.get("device_id")
            and any(
                c.get("profile_id") == claims.get("profile_id")
                for c in event.summary.get("challenges", [])
            )
        ):
            found = event
    return found


def transactions(events: Iterable[TraceEvent]) -> list[str]:
    """The transaction IDs seen, most recent last."""
    seen: dict[str, None] = {}
    for event in events:
        if event.transaction_id:
            seen.pop(event.transaction_id, None)
            seen[event.transaction_id] = None
    return list(seen)
