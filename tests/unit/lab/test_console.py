"""The lab console's JSON, in process: the transactions and one transaction's messages from a
synthetic trace (the same one `scep-lab trace` is tested with), nothing secret in them; the
guards (loopback Host names, the change header); the trace follower that feeds the live stream;
scenario runs one at a time; the trust map from a real lab PKI."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.console.app import create_app, host_name
from lab.console.live import Hub, TraceIndex, sse
from lab.console.runs import Run, RunRefused, Runs
from lab.console.trust import ra_pair, trust_map
from lab.home import LabState, TenantState, save_state
from shared.pki import build_lab_pki, default_lab_spec
from shared.trace import TraceEvent

from .test_trace_view import CHALLENGE_ID, DOWN, OK, REFUSED, refused, success
from .test_trace_view import data as data  # the fixture: a trace folder of three enrolments


@pytest.fixture
async def console(data: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(data)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def test_the_transactions_newest_last_with_device_outcome_and_duration(
    console: httpx.AsyncClient,
) -> None:
    rows = (await console.get("/api/transactions")).json()["transactions"]
    assert [r["id"] for r in rows] == [OK, REFUSED, DOWN]
    ok, no, down = rows
    assert ok["ok"] and ok["outcome"] == "issued"
    assert ok["device"] == "ALICE-PC" and ok["subject"] == "CN=alice@contoso-lab.onmicrosoft.com"
    assert ok["duration_ms"] > 0
    assert not no["ok"] and no["outcome"] == "refused · SubjectNameMismatch"
    assert no["device"] == "mallory"  # no claims: the CSR's common name
    assert not down["ok"]
    limited = (await console.get("/api/transactions", params={"limit": 1})).json()
    assert [r["id"] for r in limited["transactions"]] == [DOWN]


async def test_a_transaction_is_its_messages_with_payloads_and_reasons(
    console: httpx.AsyncClient,
) -> None:
    answer = await console.get(f"/api/transactions/{REFUSED}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["lanes"] == ["device", "ndes", "policy-module", "connector", "cloud"]
    first, verify, validate = body["messages"]
    assert (first["from"], first["to"], first["label"]) == (
        "device",
        "ndes",
        "PKIOperation PKCSReq",
    )
    assert first["summary"]["csr"]["subject"] == "CN=mallory"
    assert first["reason"]["hresult"] == "0x80070057"  # as the trace view shows it
    assert "E_INVALIDARG" in first["explanation"]
    assert validate["outcome"] == "refused"
    assert "SubjectNameMismatch" in validate["explanation"]
    assert [m["n"] for m in body["messages"]] == [0, 1, 2]
    assert verify["offset_ms"] >= first["offset_ms"]
    # its heading says what the list says
    listed = (await console.get("/api/transactions")).json()["transactions"]
    row = next(r for r in listed if r["id"] == REFUSED)
    assert {key: body[key] for key in row} == row


async def test_no_challenge_in_what_the_console_shows(console: httpx.AsyncClient) -> None:
    body = (await console.get(f"/api/transactions/{OK}")).text
    assert CHALLENGE_ID not in body
    assert "(fingerprint)" in body


async def test_an_unknown_transaction_is_404(console: httpx.AsyncClient) -> None:
    answer = await console.get("/api/transactions/NOPE")
    assert answer.status_code == 404
    assert "NOPE" in answer.json()["detail"]


async def test_the_page_and_its_files(console: httpx.AsyncClient) -> None:
    page = await console.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text
    script = await console.get("/static/app.js")
    assert script.status_code == 200
    assert "http://" not in page.text.replace("http://www.w3.org", "")  # nothing from outside


async def test_other_host_names_are_refused(console: httpx.AsyncClient) -> None:
    for other in ("attacker.example:8000", "[::1]evil.example", "127.0.0.1.evil.example"):
        answer = await console.get("/api/transactions", headers={"host": other})
        assert answer.status_code == 421, other
    for loopback in ("localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.1"):
        answer = await console.get("/api/transactions", headers={"host": loopback})
        assert answer.is_success, loopback
    assert [host_name(h) for h in ("[::1]:8000", "LOCALHOST", "127.0.0.1:1")] == [
        "[::1]",
        "localhost",
        "127.0.0.1",
    ]


async def test_a_change_needs_the_console_header(console: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/api/scenarios/device-certificate/run"),
        ("POST", "/api/clock"),
        ("POST", "/api/faults"),
        ("DELETE", "/api/faults"),
        ("POST", "/api/intune/devices/x/retire"),
    ):
        answer = await console.request(method, path)
        assert answer.status_code == 403, (method, path)
        assert "x-lab-console" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"point": "nope"}, "no fault point"),
        ({"point": "ndes-caps", "caps": ["SHA-256"]}, "caps is text"),
        ({"point": "ca-refusing", "hresult": 2148091904}, "hresult is text"),
        ({"point": "ca-refusing", "hresult": "0xZZ"}, "not an HRESULT"),
        ({"point": "validation", "times": "two"}, "times is a number"),
        ({"point": "validation", "status": True}, "status is a number"),
        ({"point": "validation", "times": 0}, "at least 1"),
        ({"point": "ndes-template"}, "needs --template"),
        ({"point": "ra-expired"}, "confirm it"),
    ],
)
async def test_a_bad_fault_form_is_a_400_that_says_why(
    console: httpx.AsyncClient, data: Path, body: dict[str, object], said: str
) -> None:
    lab_json(data)  # nothing is sent: the lab's parties are not running
    answer = await console.post("/api/faults", json=body, headers={"x-lab-console": "1"})
    assert answer.status_code == 400, answer.text
    assert said in answer.json()["detail"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({}, "how far"),
        ({"advance": 61}, "how far"),
        ({"advance": "soon"}, "61m"),
        ({"advance": "0s"}, "forward"),
        ({"advance": "30000d"}, "20 years"),
    ],
)
async def test_a_bad_clock_form_is_a_400(
    console: httpx.AsyncClient, data: Path, body: dict[str, object], said: str
) -> None:
    lab_json(data)
    answer = await console.post("/api/clock", json=body, headers={"x-lab-console": "1"})
    assert answer.status_code == 400 and said in answer.json()["detail"]
    not_json = await console.post(
        "/api/clock",
        content=b"[1]",
        headers={"x-lab-console": "1", "content-type": "application/json"},
    )
    assert not_json.status_code == 422


async def test_no_lab_json_is_a_clear_error(console: httpx.AsyncClient) -> None:
    answer = await console.get("/api/lab")
    assert answer.status_code == 503
    assert "scep-lab up" in answer.json()["detail"]
    unknown = await console.post("/api/scenarios/no-such/run", headers={"x-lab-console": "1"})
    assert unknown.status_code == 404


def test_the_trace_index_reads_each_line_once_and_whole(tmp_path: Path) -> None:
    old, new = success()[:2], refused()[:2]
    (tmp_path / "ndes.jsonl").write_text(old[0].to_json() + "\n")
    index = TraceIndex(tmp_path)
    assert [e.to_json() for e in index.poll()] == [old[0].to_json()]  # what was there
    assert index.poll() == [] and index.snapshot[0] == 1
    line = new[0].to_json()
    with (tmp_path / "ndes.jsonl").open("a") as handle:
        handle.write(line[:20])  # a party half-way through writing
    assert index.poll() == []
    with (tmp_path / "ndes.jsonl").open("a") as handle:
        handle.write(line[20:] + "\nnot json\n")
    (tmp_path / "ca.jsonl").write_text(old[1].to_json() + "\n")  # a file made since
    found = index.poll()
    assert sorted(e.to_json() for e in found) == sorted([line, old[1].to_json()])
    version, events = index.snapshot
    assert version == 2 and [e.at for e in events] == sorted(e.at for e in events)
    assert len(events) == 3
    (tmp_path / "ndes.jsonl").write_text("")  # cut short (a lab reset): read anew
    assert index.poll() == []  # not news
    assert [e.to_json() for e in index.events] == [old[1].to_json()]
    assert index.snapshot[0] > version  # never back to a version a cache has seen


async def test_the_stream_sends_what_is_published() -> None:
    hub = Hub()
    stream = sse(hub)
    assert await anext(stream) == "retry: 2000\n\n"
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    hub.publish("trace", {"operation": "PKIOperation"})
    text = await asyncio.wait_for(waiting, 5)
    assert text == 'event: trace\ndata: {"operation":"PKIOperation"}\n\n'
    # the console stopping ends every open stream (uvicorn need not wait for the browser)
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    hub.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)


def lab_json(folder: Path) -> None:
    tenant = TenantState("t", "lab.test", "Lab", "admin@lab.test", "op@lab.test", "app", "App")
    save_state(folder, LabState(tenant=tenant))


async def test_runs_are_one_at_a_time_and_end_with_their_transactions(data: Path) -> None:
    lab_json(data)
    hub = Hub()
    hub.bind(asyncio.get_running_loop())
    index = TraceIndex(data / "trace")
    index.poll()
    runs = Runs(data, hub, index)
    held: list[Run] = []
    first = runs.start("device-certificate", runner=held.append)
    with pytest.raises(RunRefused) as busy:
        runs.start("renewal", runner=held.append)
    assert busy.value.status == 409
    with pytest.raises(RunRefused) as unknown:
        runs.start("no-such-scenario")
    assert unknown.value.status == 404
    # the trace's transactions all started in 2025: none is this run's
    runs.finish(first, True, "issued", 1.5)
    assert (first.state, first.transactions) == ("passed", [])
    first.started = "2025-05-01T10:00:30+00:00"  # as if it had started before the last two
    runs.finish(first, False, "refused", 1.0)
    assert first.transactions == [REFUSED, DOWN]
    # and it keeps its messages, a line each, for a page that did not watch it
    lines = [m["text"] for m in first.messages]
    assert lines[0] == "device → ndes PKIOperation PKCSReq: refused FAILURE"
    assert "policy-module → connector verifyRequest: refused 200" in lines
    assert any(not m["ok"] and "unreachable" in m["text"] for m in first.messages)
    second = runs.start("renewal", runner=held.append)
    assert [r.id for r in runs.all()] == [first.id, second.id]


def test_the_trust_map_reads_the_lab_pki(tmp_path: Path) -> None:
    not_before = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    build_lab_pki(default_lab_spec(b"console-tests", not_before), tmp_path / "pki")
    root = x509.load_pem_x509_certificate((tmp_path / "pki" / "root-ca.pem").read_bytes())
    der = root.public_bytes(serialization.Encoding.DER)
    profiles = [
        {"displayName": name, "trustedRootCertificate": base64.b64encode(der).decode()}
        for name in ("Lab Root CA (iOS)", "Lab Root CA (Android)")
    ]
    health = {"cloud": {"up": True, "detail": "answers"}, "ca": {"up": False, "detail": "down"}}
    later = not_before + dt.timedelta(days=30)
    found = trust_map(tmp_path, later, profiles, health)
    certs = {c["id"]: c for c in found["certificates"]}
    assert certs["root-ca"]["issuer_id"] is None and certs["root-ca"]["ca"]
    assert certs["issuing-ca"]["issuer_id"] == "root-ca"
    assert certs["intune-challenge-sign"]["issuer_id"] == "intune-challenge-ca"
    assert "connector-identity" not in certs  # the connector has not signed in here
    assert not any(c["expired"] for c in certs.values())
    device = [t for t in found["trust"] if t["party"] == "device"]
    assert {t["anchor"] for t in device} == {"tls-root", "root-ca"}
    why = next(t["why"] for t in device if t["anchor"] == "root-ca")
    assert "“Lab Root CA (Android)”, “Lab Root CA (iOS)”" in why
    parties = {p["id"]: p for p in found["parties"]}
    assert parties["cloud"]["up"] is True and parties["ca"]["up"] is False
    assert parties["device"]["up"] is None
    assert "MDM identity" in parties["device"]["holds_note"]  # its keys are on the device
    expired = trust_map(tmp_path, not_before + dt.timedelta(days=365 * 3), [], {})
    assert {c["id"] for c in expired["certificates"] if c["expired"]} >= {"ndes-host-tls"}
    # what NDES's GetCACert answers: its RA pair (told apart by key usage) and the CA's chain
    pki = tmp_path / "pki"
    answered = tuple(
        x509.load_pem_x509_certificate((pki / f"{name}.pem").read_bytes())
        for name in ("ndes-ra-encrypt", "ndes-ra-sign", "issuing-ca", "root-ca")
    )
    pair = ra_pair(answered)
    assert {k: v.subject.rfc4514_string() for k, v in pair.items()} == {
        "ra-sign": "CN=NDES-RA-Signing,O=Lab",
        "ra-encrypt": "CN=NDES-RA-Encryption,O=Lab",
    }
    with_ra = {c["id"]: c for c in trust_map(tmp_path, later, [], {}, pair)["certificates"]}
    assert with_ra["ra-sign"]["issuer_id"] == "issuing-ca"
    assert with_ra["ra-sign"]["held_by"] == "ndes"


def test_events_carry_no_secret_to_the_stream() -> None:
    from lab.console.views import event_json

    event = TraceEvent(
        "2025-05-01T10:00:00+00:00",
        "cloud",
        "connector",
        "received",
        "validateRequest",
        "c",
        summary={"challenge": {"challenge_id": CHALLENGE_ID}, "password": "hunter2"},
    )
    text = json.dumps(event_json(event))
    assert CHALLENGE_ID not in text and "hunter2" not in text


def test_what_is_computed_from_the_trace_is_kept_until_it_changes(tmp_path: Path) -> None:
    from lab.console.app import Memo

    (tmp_path / "ndes.jsonl").write_text(success()[0].to_json() + "\n")
    index = TraceIndex(tmp_path)
    index.poll()
    memo, calls = Memo(index), []

    def count(events: list[TraceEvent]) -> int:
        calls.append(1)
        return len(events)

    assert memo.get("n", count) == memo.get("n", count) == 1
    assert len(calls) == 1
    with (tmp_path / "ndes.jsonl").open("a") as handle:
        handle.write(success()[1].to_json() + "\n")
    index.poll()
    assert memo.get("n", count) == 2 and len(calls) == 2
