"""`scep-lab fault`: what a user types becomes one call to the right party's lab API (checked
without a lab: `faults.send` is replaced), bad input is refused before anything is sent, the
cloud's points are as they were, and `fault list` reads every party's answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from lab import control, faults
from lab.cli import app
from lab.faults import FaultCall, FaultError, fault_call, parse_hresult
from lab.home import LabState, save_state

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x80094800", 0x80094800),
        ("0X80094800", 0x80094800),
        ("80094800h", 0x80094800),
        ("2148091904", 0x80094800),
        ("-2146875392", 0x80094800),
        ("0x8009_4800", 0x80094800),
    ],
)
def test_hresults_in_every_spelling(text: str, value: int) -> None:
    assert parse_hresult(text) == value


@pytest.mark.parametrize("text", ["", "0xZZ", "CERTSRV", "0x1FFFFFFFF", "-2147483649"])
def test_what_is_not_an_hresult(text: str) -> None:
    with pytest.raises(FaultError):
        parse_hresult(text)


def test_each_point_is_one_call_to_its_party() -> None:
    assert fault_call("notification", times=3) == FaultCall(
        "cloud", "PUT", "/lab/faults/notification", {"status": 503, "times": 3}
    )
    assert fault_call("validation", status=500) == FaultCall(
        "cloud", "PUT", "/lab/faults/validation", {"status": 500, "times": None}
    )
    assert fault_call("ca-refusing", hresult="0x80094800").body == {
        "hresult": 0x80094800,
        "times": None,
    }
    assert fault_call("ca-refusing").body == {"hresult": 0x80094012, "times": None}
    assert fault_call("ca-down", status=502, times=1) == FaultCall(
        "ca", "PUT", "/lab/faults/down", {"status": 502, "times": 1}
    )
    assert fault_call("ndes-caps") == FaultCall("ndes", "PUT", "/lab/faults/caps", {})
    assert fault_call("ndes-caps", caps="DES3, AES;Renewal").body == {
        "caps": ["DES3", "AES", "Renewal"]
    }
    assert fault_call("ndes-template", template="Foo").body == {
        "signature": "Foo",
        "encryption": "Foo",
        "generalPurpose": "Foo",
    }
    assert fault_call("ndes-template", template="Foo", slot="general-purpose").body == {
        "generalPurpose": "Foo"
    }
    assert fault_call("connector-crash", restart_after=30) == FaultCall(
        "connector", "POST", "/lab/crash", {"restartAfterSeconds": 30}
    )


@pytest.mark.parametrize(
    ("point", "options", "why"),
    [
        ("nowhere", {}, "unknown fault point"),
        ("ndes-template", {}, "--template"),
        ("ndes-template", {"template": "Foo", "slot": "registry"}, "--slot"),
        ("ca-refusing", {"hresult": "nope"}, "not an HRESULT"),
        ("connector-crash", {"restart_after": -1}, "--restart-after"),
        ("ra-expired", {}, "clock"),
        ("notification", {"times": 0}, "--times"),
    ],
)
def test_bad_faults_are_refused(point: str, options: dict[str, object], why: str) -> None:
    with pytest.raises(FaultError, match=why):
        fault_call(point, **options)  # type: ignore[arg-type]


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    save_state(tmp_path, LabState())
    return tmp_path


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[FaultCall]:
    calls: list[FaultCall] = []

    def send(data: Path, state: LabState, call: FaultCall, caller: str = "admin") -> httpx.Response:
        calls.append(call)
        return httpx.Response(202 if call.party == "connector" else 204)

    monkeypatch.setattr(faults, "send", send)
    return calls


def test_the_command_line_arms_each_party(lab_dir: Path, sent: list[FaultCall]) -> None:
    for args in (
        ["notification", "--times", "3"],
        ["ca-refusing", "--hresult", "0x80094800"],
        ["ca-down", "--times", "2"],
        ["ndes-caps"],
        ["ndes-template", "--template", "NoSuchTemplate"],
        ["connector-crash", "--restart-after", "30"],
    ):
        done = runner.invoke(app, ["fault", "inject", "--data", str(lab_dir), *args])
        assert done.exit_code == 0, done.output
    assert [(c.party, c.path) for c in sent] == [
        ("cloud", "/lab/faults/notification"),
        ("ca", "/lab/faults/refusing"),
        ("ca", "/lab/faults/down"),
        ("ndes", "/lab/faults/caps"),
        ("ndes", "/lab/faults/templates"),
        ("connector", "/lab/crash"),
    ]
    assert sent[1].body == {"hresult": 0x80094800, "times": None}


def test_the_command_line_refuses_before_sending(lab_dir: Path, sent: list[FaultCall]) -> None:
    for args in (
        ["ca-refusing", "--hresult", "0xZZ"],
        ["nowhere"],
        ["ndes-template"],
        ["notification", "--status", "404"],
    ):
        done = runner.invoke(app, ["fault", "inject", "--data", str(lab_dir), *args])
        assert done.exit_code == 2, done.output
    assert sent == []


def test_list_reads_every_party(lab_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = {
        "cloud": {"notification": {"status": 503, "times": 2}},
        "ca": {"refusing": {"hresult": 0x80094800, "times": None}},
        "ndes": {"caps": ["DES3", "AES"], "templates": {"generalPurpose": "Foo"}},
    }

    def send(data: Path, state: LabState, call: FaultCall, caller: str = "admin") -> httpx.Response:
        return httpx.Response(200, json=answers[call.party])

    monkeypatch.setattr(faults, "send", send)
    listed = runner.invoke(app, ["fault", "list", "--data", str(lab_dir)])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "notification: HTTP 503, 2",
        "ca-refusing: HRESULT 0x80094800, until cleared",
        "ndes-caps: GetCACaps answers DES3, AES",
        "ndes-template: generalPurpose=Foo",
    ]
    answers.update(cloud={}, ca={}, ndes={})
    assert "no fault armed" in runner.invoke(app, ["fault", "list", "--data", str(lab_dir)]).output


def test_the_clock_points_ask_first(lab_dir: Path) -> None:
    asked = runner.invoke(
        app, ["fault", "inject", "--data", str(lab_dir), "ra-expired"], input="n\n"
    )
    assert asked.exit_code == 1 and "never goes back" in asked.output
    assert control.parse_duration("1h30m") == 5400  # the clock's own parsing is unchanged
