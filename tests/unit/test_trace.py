"""shared.trace: what a party records of the messages it serves and sends, and how the lab joins
the parties' events into one enrolment."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shared import trace
from shared.trace import (
    CORRELATION_HEADER,
    PARTY_HEADER,
    TraceEvent,
    TraceMiddleware,
    Tracer,
    read_events,
    timeline,
    transactions,
)


def _app(tracer: Tracer, peer_app: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TraceMiddleware, tracer=tracer, default_peer="device")

    @app.post("/scep")
    async def scep(operation: str) -> dict[str, str]:
        trace.annotate(transaction_id="TX1", csr={"subject": "CN=dev"})
        if peer_app is not None:
            transport = tracer.transport("connector", peer_app)
            async with httpx.AsyncClient(transport=transport, base_url="http://peer") as client:
                await client.post("/verifyRequest")
        return {"operation": operation}

    @app.post("/refuse")
    async def refuse() -> dict[str, str]:
        trace.annotate(outcome="refused", reason={"intune_code": "SubjectNameMismatch"})
        return {}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {}

    @app.get("/devices")
    async def devices() -> dict[str, str]:
        return {}

    return app


def _peer(tracer: Tracer) -> FastAPI:
    app = FastAPI()
    app.add_middleware(TraceMiddleware, tracer=tracer)

    @app.post("/verifyRequest")
    async def verify() -> dict[str, str]:
        return {}

    return app


async def test_a_hop_is_recorded_by_both_sides_with_one_correlation_id(tmp_path: Path) -> None:
    connector = _peer(Tracer("connector", tmp_path))
    ndes = _app(Tracer("ndes", tmp_path), httpx.ASGITransport(app=connector))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ndes), base_url="http://ndes"
    ) as client:
        answer = await client.post("/scep", params={"operation": "PKIOperation"})
        assert (await client.get("/health")).status_code == 200
    events = read_events(tmp_path)
    by = {(e.party, e.direction): e for e in events}
    assert set(by) == {("ndes", "received"), ("ndes", "sent"), ("connector", "received")}
    received = by["ndes", "received"]
    assert (received.operation, received.peer, received.status) == ("PKIOperation", "device", 200)
    assert received.transaction_id == "TX1"
    assert received.summary["csr"] == {"subject": "CN=dev"}
    assert answer.headers[CORRELATION_HEADER] == received.correlation_id
    sent, served = by["ndes", "sent"], by["connector", "received"]
    assert sent.correlation_id == served.correlation_id == received.correlation_id
    assert sent.transaction_id == "TX1"  # inherited from the request in hand
    assert (sent.peer, served.peer, served.operation) == ("connector", "ndes", "verifyRequest")


async def test_an_incoming_correlation_id_is_kept_and_a_refusal_is_marked(tmp_path: Path) -> None:
    app = _app(Tracer("cloud", tmp_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as client:
        await client.post("/refuse", headers={CORRELATION_HEADER: "abc", PARTY_HEADER: "connector"})
    (event,) = read_events(tmp_path)
    assert (event.correlation_id, event.peer, event.outcome) == ("abc", "connector", "refused")
    assert event.reason == {"intune_code": "SubjectNameMismatch"}


async def test_the_consoles_reads_are_not_recorded_but_nothing_else_can_hide(
    tmp_path: Path,
) -> None:
    app = _app(Tracer("cloud", tmp_path))
    watching = {PARTY_HEADER: trace.OBSERVER}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cloud"
    ) as client:
        assert (await client.get("/devices", headers=watching)).status_code == 200
        assert (await client.post("/refuse", headers=watching)).status_code == 200
    (event,) = read_events(tmp_path)  # the POST, named console, recorded all the same
    assert (event.operation, event.peer) == ("refuse", trace.OBSERVER)


async def test_a_peer_that_cannot_be_reached_is_recorded_as_unreachable(tmp_path: Path) -> None:
    tracer = Tracer("policy-module", tmp_path)
    async with httpx.AsyncClient(
        transport=tracer.transport("connector"), base_url="http://127.0.0.1:9"
    ) as client:
        with trace.activity("verify", transaction_id="TX9"), pytest.raises(httpx.ConnectError):
            await client.post("/verifyRequest")
    (event,) = read_events(tmp_path)
    assert (event.direction, event.outcome, event.transaction_id) == ("sent", "unreachable", "TX9")
    assert "ConnectError" in event.reason["detail"]


async def test_no_trace_dir_records_nothing_but_passes_the_correlation_id_on(
    tmp_path: Path,
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers[CORRELATION_HEADER])
        return httpx.Response(200)

    tracer = Tracer("connector")
    async with httpx.AsyncClient(
        transport=tracer.transport("cloud", httpx.MockTransport(handler))
    ) as client:
        with trace.activity("deliver", correlation_id="c1"):
            await client.post("http://cloud/successNotification")
    assert seen == ["c1"]
    assert not tracer.enabled
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))


def test_annotate_outside_a_message_does_nothing() -> None:
    trace.annotate(transaction_id="x", csr={"subject": "CN=a"})
    assert trace.current_transaction_id() is None


def _event(at: str, party: str, operation: str, cid: str, **extra: object) -> TraceEvent:
    return TraceEvent(
        at=at, party=party, peer="x", direction="received", operation=operation,
        correlation_id=cid, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def test_timeline_joins_hops_by_correlation_and_finds_the_check_in(tmp_path: Path) -> None:
    claims = {"device_id": "d1", "profile_id": "p1"}
    events = [
        _event("1", "cloud", "checkin", "c0", summary={
            "device": {"id": "d1"}, "challenges": [{"profile_id": "p1"}]}),
        _event("2", "cloud", "checkin", "c9", summary={
            "device": {"id": "d2"}, "challenges": [{"profile_id": "p1"}]}),
        _event("3", "ndes", "GetCACaps", "c1"),
        _event("4", "ndes", "PKIOperation", "c1", transaction_id="T"),
        _event("5", "cloud", "validateRequest", "c1", transaction_id="T",
               summary={"challenge": claims}),
        _event("6", "cloud", "successNotification", "c2", transaction_id="T"),
        _event("7", "ndes", "PKIOperation", "c3", transaction_id="U"),
    ]  # fmt: skip
    chosen = timeline(events, "T")
    assert [e.at for e in chosen] == ["1", "3", "4", "5", "6"]
    assert [e.at for e in timeline(events, "c3")] == ["7"]
    assert transactions(events) == ["T", "U"]


def test_lines_that_are_not_events_are_skipped() -> None:
    good = TraceEvent("2026-01-01T00:00:00+00:00", "ca", "ndes", "received", "submit", "c")
    lines = [
        good.to_json().encode(),
        b"[1, 2]",
        b'"text"',
        b'{"at": 5, "party": "ca", "peer": "x", "direction": "sent", "operation": "o",'
        b' "correlation_id": "c"}',
        b'{"at": "t", "party": "ca", "peer": "x", "direction": "sent", "operation": "o",'
        b' "correlation_id": "c", "summary": [1]}',
        b'{"party": "ca"}',
        b"{torn",
    ]
    assert trace.parse_lines(lines) == [good]


def test_the_log_is_json_lines_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    tracer = Tracer("ca", tmp_path)
    tracer.record(_event("1", "ca", "submit", "c"))
    with (tmp_path / "ca.jsonl").open("a") as out:
        out.write('{"at": "2", "party": "ca", "pe')
    (event,) = read_events(tmp_path)
    assert event.operation == "submit"
    first = (tmp_path / "ca.jsonl").read_text().splitlines()[0]
    assert json.loads(first)["party"] == "ca"
