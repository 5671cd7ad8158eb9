"""`scep-lab trace`: synthetic events of a successful enrolment, one Intune refused
(SubjectNameMismatch → E_INVALIDARG FAILURE) and one with the connector down, drawn as one arrow
per message with the lanes, outcomes and plain-language reasons; the JSON output round-trips;
the command's exit codes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lab.cli import app
from lab.explain import explain, fail_info_name, hresult_value, payload_lines
from lab.trace_view import pair_messages, render_list, render_timeline, select_transaction
from shared.trace import TraceEvent

OK, REFUSED, DOWN = "4F2A9C0B7D1E55", "9D3E77A1", "AB12CD34"
CHALLENGE_ID = "s3cret-challenge-id"
SUBJECT = "CN=alice@contoso-lab.onmicrosoft.com"
CERT = {"subject": SUBJECT, "serial": "7F00AA", "issuer": "CN=Contoso Issuing CA"}
START = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)


def ev(ms: int, party: str, peer: str, direction: str, op: str, corr: str, **kw: Any) -> TraceEvent:
    at = (START + timedelta(milliseconds=ms)).isoformat(timespec="microseconds")
    kw.setdefault("status", None if kw.get("outcome") == "unreachable" else 200)
    return TraceEvent(at, party, peer, direction, op, corr, **kw)  # type: ignore[arg-type]


def hop(
    ms: int, sender: str, receiver: str, op: str, corr: str, **received: Any
) -> list[TraceEvent]:
    """A message as both ends record it: `sent` by the sender, `received` by the receiver."""
    tx = received.get("transaction_id")
    return [
        ev(ms, sender, receiver, "sent", op, corr, transaction_id=tx),
        ev(ms + 2, receiver, sender, "received", op, corr, **received),
    ]


def success() -> list[TraceEvent]:
    csr = {"subject": SUBJECT, "sans": ["upn:alice@contoso"], "ekus": ["1.3.6.1.5.5.7.3.2"]}
    cms = {"signer": {"subject": "CN=alice", "self_signed": True}, "digest": "sha256"}
    claims = {"device_name": "ALICE-PC", "profile_name": "Wi-Fi", "challenge_id": CHALLENGE_ID}
    reply = {"status": "SUCCESS", "certificate": CERT}
    pki = {"message_type": "PKCSReq", "cms": cms, "csr": csr, "reply": reply}
    return [
        *hop(0, "device", "cloud", "checkin", "c0", summary={"challenges": [claims]}),
        *hop(100, "device", "ndes", "GetCACert", "c1"),
        *hop(200, "device", "ndes", "PKIOperation", "c2", transaction_id=OK, summary=pki),
        *hop(210, "policy-module", "connector", "verifyRequest", "c2", transaction_id=OK),
        *hop(215, "connector", "cloud", "validateRequest", "c2", summary={"challenge": claims}),
        *hop(300, "ndes", "ca", "submit", "c2", transaction_id=OK, summary={"template": "User"}),
        *hop(360, "policy-module", "connector", "notify", "c2", transaction_id=OK),
        *hop(400, "connector", "cloud", "successNotification", "c3", transaction_id=OK),
    ]


def refused(t: int = 60_000) -> list[TraceEvent]:
    """A minute later: Intune refuses the CSR's subject, NDES answers FAILURE."""
    why = "Intune: SubjectNameMismatch Subject Name in CSR and challenge do not match"
    reason = {"fail_info": "BAD_REQUEST", "hresult": 0x80070057, "detail": why}
    reply = {"status": "FAILURE", "fail_info": "BAD_REQUEST", "hresult": -2147024809}
    pki = {"message_type": "PKCSReq", "csr": {"subject": "CN=mallory"}, "reply": reply}
    no = {"transaction_id": REFUSED, "outcome": "refused"}
    code = {"intune_code": "SubjectNameMismatch", "detail": "CSR subject 'CN=mallory'"}
    return [
        *hop(t, "device", "ndes", "PKIOperation", "d1", **no, summary=pki, reason=reason),
        *hop(t + 10, "policy-module", "connector", "verifyRequest", "d1", **no, reason=code),
        *hop(t + 15, "connector", "cloud", "validateRequest", "d1", **no, reason=code),
    ]


def unreachable(t: int = 120_000) -> list[TraceEvent]:
    """Two minutes later, from a real scepclient: the connector is down."""
    detail = "ConnectError: [Errno 111] Connection refused"
    reason = {"fail_info": "BAD_REQUEST", "hresult": 0x800706BA, "detail": detail}
    down = {"transaction_id": DOWN, "reason": reason, "summary": {"reply": {"status": "FAILURE"}}}
    lost = {"transaction_id": DOWN, "outcome": "unreachable", "reason": {"detail": detail}}
    return [
        ev(t, "ndes", "client", "received", "PKIOperation", "e1", outcome="refused", **down),
        ev(t + 5, "policy-module", "connector", "sent", "verifyRequest", "e1", **lost),
    ]


def draw(events: list[TraceEvent], *, width: int = 100, verbose: bool = False) -> str:
    console = Console(record=True, width=width)
    render_timeline(console, events, verbose=verbose)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    return text


def arrows(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(mark in line for mark in "▶◀✕")]


def test_a_successful_enrolment_is_one_arrow_per_message_across_six_lanes() -> None:
    events = success()
    assert len(pair_messages(events)) == len(events) // 2
    text = draw(events)
    for lane in ("device", "ndes", "policy-module", "connector", "cloud", "ca"):
        assert f" {lane} " in text or f" {lane}\n" in text
    rows = arrows(text)
    assert len(rows) == 8
    assert "PKIOperation PKCSReq" in rows[2] and "ok SUCCESS" in rows[2]
    assert rows[2].index("├") < rows[2].index("▶")  # device (left) → NDES
    span = rows[5].index("▶") - rows[5].index("├")  # NDES → CA, over three lanes
    assert "submit" in rows[5] and span > 3 * (rows[2].index("▶") - rows[2].index("├"))
    assert "↳" not in text


def test_a_refused_enrolment_explains_each_failure_in_the_row_below() -> None:
    text = draw(refused())
    lines = text.splitlines()
    rows = arrows(text)
    assert len(rows) == 3 and all("refused" in row for row in rows)
    assert "refused FAILURE" in rows[0]
    below = lines[lines.index(rows[0]) + 1]
    assert below.lstrip().startswith("↳ FAILURE badRequest · 0x80070057 E_INVALIDARG")
    assert "the policy module refused the request (see the Intune code)" in " ".join(text.split())
    assert "the connector passed on Intune's refusal: SubjectNameMismatch" in text
    assert "Intune SubjectNameMismatch: the CSR's subject is not the one bound" in text
    assert "CN=mallory" in text
    assert text.count("↳") == 3


def test_an_unreachable_connector_is_a_failed_arrow_with_the_reason() -> None:
    text = draw(unreachable())
    rows = arrows(text)
    assert "client" in text.splitlines()[1]  # a real scepclient: the device lane, as named
    assert "✕" in rows[1] and "▶" not in rows[1] and "unreachable" in rows[1]
    flat = " ".join(text.split())
    assert "0x800706BA RPC_S_SERVER_UNAVAILABLE: NDES could not reach the connector/CA" in flat
    assert "the policy module never reached the connector" in flat
    assert "[Errno 111] Connection refused" in flat


def test_pairing() -> None:
    sent, received = hop(5, "device", "ndes", "GetCACaps", "x", outcome="refused", status=403)
    (only,) = pair_messages([received, sent])
    assert only.event is received and only.sent is sent and only.result == "refused 403"
    # a first try that never arrived, then a retry that did: two arrows
    lost = ev(0, "device", "ndes", "sent", "GetCACaps", "x", outcome="unreachable")
    messages = pair_messages([lost, sent, received])
    assert [m.event for m in messages] == [lost, received]
    # a sent event nobody recorded receiving is still drawn, from its sender
    (alone,) = pair_messages([sent])
    assert (alone.sender, alone.receiver) == ("device", "ndes")


def test_verbose_shows_the_payloads_and_no_secret() -> None:
    text = draw(success(), verbose=True)
    assert f"subject: {SUBJECT}" in text
    assert "self_signed: yes" in text and "device_name: ALICE-PC" in text
    assert "template: User" in text and "serial: 7F00AA" in text
    assert CHALLENGE_ID not in text
    prints = [line.split("#")[1][:8] for line in text.splitlines() if "(fingerprint)" in line]
    assert len(prints) == 2 and prints[0] == prints[1]  # the check-in's and the validation's
    lines = payload_lines({"challenge": "eyJhbGciOi", "admin_password": "p", "csr": {"a": 1}})
    assert lines == [
        (0, "challenge", "(hidden)"),
        (0, "admin_password", "(hidden)"),
        (0, "csr", ""),
        (1, "a", "1"),
    ]


def test_narrow_terminals_and_odd_events_do_not_break_it() -> None:
    assert len(arrows(draw(success(), width=60))) == 8
    odd = {"csr": "?", "reply": 5, "message_type": 3}
    broken = ev(0, "ndes", "device", "received", "PKIOperation", "z", summary=odd, outcome="error")
    broken.reason = {"hresult": "nonsense"}
    text = draw([broken], verbose=True)
    assert "PKIOperation" in text and "error" in text


def test_the_check_in_that_gave_the_challenge_joins_the_transaction() -> None:
    events = success() + refused()
    chosen = select_transaction(events, OK)
    assert {e.operation for e in chosen} >= {"checkin", "PKIOperation", "successNotification"}
    assert all(e.transaction_id != REFUSED for e in chosen)


def test_explanations() -> None:
    assert fail_info_name("BAD_MESSAGE_CHECK") == fail_info_name(1) == "badMessageCheck"
    assert hresult_value(-2147024809) == hresult_value("0x80070057") == 0x80070057

    def said(party: str, op: str, **kw: Any) -> str:
        kw.setdefault("outcome", "refused")
        return explain(ev(0, party, "peer", "received", op, "c", **kw)) or ""

    submit = said("ca", "submit", summary={"template": "Nope"}, reason={"hresult": 0x80094800})
    assert "the CA does not offer the template" in submit and "'Nope'" in submit
    assert "next check-in" in said("cloud", "x", reason={"intune_code": "ChallengeExpired"})
    used = {"intune_code": "BadCertificateRequestIdInChallenge"}
    assert "already used" in said("cloud", "validateRequest", reason=used)
    assert "HTTP 503" in said("cloud", "validateRequest", outcome="error", status=503)
    assert "signing time" in said("ndes", "PKIOperation", reason={"fail_info": "BAD_TIME"})
    assert explain(ev(0, "ndes", "device", "received", "GetCACaps", "c")) is None


def test_the_list_of_transactions() -> None:
    console = Console(record=True, width=100)
    render_list(console, success() + refused() + unreachable())
    text = console.export_text()
    assert text.index(OK[:12]) < text.index(REFUSED) < text.index(DOWN)  # newest last
    assert "issued" in text and "SubjectNameMismatch" in text and "CN=mallory" in text


@pytest.fixture
def data(tmp_path: Path) -> Path:
    files: dict[str, list[str]] = defaultdict(list)
    for event in success() + refused() + unreachable():
        files[event.party].append(event.to_json())
    (tmp_path / "trace").mkdir()
    for party, lines in files.items():
        (tmp_path / "trace" / f"{party}.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_the_command(data: Path) -> None:
    runner = CliRunner()
    newest = runner.invoke(app, ["trace", "--data", str(data)])
    assert newest.exit_code == 0, newest.output
    assert "recent transactions" in newest.stdout and f"transaction {DOWN}" in newest.stdout
    chosen = runner.invoke(app, ["trace", "9D3", "--data", str(data), "--verbose"])
    assert chosen.exit_code == 0 and f"transaction {REFUSED}" in chosen.stdout
    listed = runner.invoke(app, ["trace", "--list", "--json", "--data", str(data)])
    assert [row["transaction_id"] for row in json.loads(listed.stdout)] == [OK, REFUSED, DOWN]


def test_the_json_output_round_trips(data: Path) -> None:
    result = CliRunner().invoke(app, ["trace", OK, "--json", "--data", str(data)])
    assert result.exit_code == 0
    events = [TraceEvent.from_mapping(item) for item in json.loads(result.stdout)]
    everything = success() + refused() + unreachable()
    assert events == sorted(select_transaction(everything, OK), key=lambda e: e.at)
    assert {e.operation for e in events} >= {"checkin", "submit", "successNotification"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["NOPE"], "unknown transaction 'NOPE'"),
        ([""], "is the start of 3 transactions"),
    ],
)
def test_clear_errors(data: Path, args: list[str], said: str) -> None:
    result = CliRunner().invoke(app, ["trace", *args, "--data", str(data)])
    assert result.exit_code == 2 and said in result.stderr


def test_no_trace_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["trace", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "no trace in" in result.stderr
