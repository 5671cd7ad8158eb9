"""The lab's fault points, each armed through the lab-only API of the party it belongs to:

    validation, notification   the cloud answers with an HTTP error (N calls or until cleared)
    ca-refusing                the CA denies every request with an HRESULT of its own
    ca-down                    the CA's request API answers with a 5xx (NDES: 0x800706BA)
    ndes-caps                  NDES's GetCACaps answers other keywords (default: no SHA-*)
    ndes-template              NDES's MSCEP template values change (as in the registry)
    connector-crash            the connector dies as with kill -9; `up` restarts it after a delay
    connector-cert-expired     the virtual clock passes the connector identity's notAfter
    ra-expired                 the virtual clock passes NDES's RA certificates' notAfter

The last two are produced for their real reason, by time, and cannot be cleared: the lab's clock
never goes back (`scep-lab reset` starts over). `fault_call` turns what a user typed into one
call (pure, so the command line's parsing is tested without a lab); `send` makes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .challenge import admin_session
from .home import LabState
from .lab_api import ca_client, connector_client, ndes_client, sync_clocks

CLOUD_POINTS = ("validation", "notification")
CA_POINTS = ("ca-refusing", "ca-down")
NDES_POINTS = ("ndes-caps", "ndes-template")
CLOCK_POINTS = ("connector-cert-expired", "ra-expired")
POINTS = (*CLOUD_POINTS, *CA_POINTS, *NDES_POINTS, "connector-crash", *CLOCK_POINTS)
SLOTS = {"signature": "signature", "encryption": "encryption", "general-purpose": "generalPurpose"}
"""The MSCEP template values by the names the command line takes."""
CERTSRV_E_TEMPLATE_DENIED = 0x80094012
"""ca-refusing's default: the template's permissions do not let the requester enrol (what an
NDES service account without Enroll on the template meets)."""
PAST_EXPIRY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Point:
    """A fault point as the command line's help and the console's form present it."""

    name: str
    party: str
    help: str
    options: tuple[str, ...] = ()
    """The options of `fault_call` it takes."""


POINT_INFO: dict[str, Point] = {
    p.name: p
    for p in (
        Point(
            "validation",
            "cloud",
            "the cloud's validation answers an HTTP error",
            ("status", "times"),
        ),
        Point(
            "notification",
            "cloud",
            "the cloud's success/failure notifications answer an HTTP error",
            ("status", "times"),
        ),
        Point(
            "ca-refusing", "ca", "the CA denies every request with an HRESULT", ("hresult", "times")
        ),
        Point("ca-down", "ca", "the CA's request API answers a 5xx", ("status", "times")),
        Point("ndes-caps", "ndes", "NDES's GetCACaps answers other keywords", ("caps",)),
        Point("ndes-template", "ndes", "NDES's MSCEP template values change", ("template", "slot")),
        Point(
            "connector-crash",
            "connector",
            "the connector dies as with kill -9; `up` restarts it",
            ("restart_after",),
        ),
        Point("connector-cert-expired", "clock", "the clock passes the connector identity's end"),
        Point("ra-expired", "clock", "the clock passes the end of NDES's RA certificates"),
    )
}


class FaultError(ValueError):
    """What the user asked for is not a fault the lab can arm."""


@dataclass(frozen=True)
class FaultCall:
    """One call to a party's lab API: `party` is "cloud", "ca", "ndes" or "connector"."""

    party: str
    method: str
    path: str
    body: dict[str, Any] | None = None


def parse_hresult(text: str) -> int:
    """`0x80094800`, `80094800h`, `2148091904` or the signed `-2146875392` → unsigned 32 bits."""
    cleaned = text.strip().lower().replace("_", "")
    try:
        value = int(cleaned[:-1], 16) if cleaned.endswith("h") else int(cleaned, 0)
    except ValueError as exc:
        raise FaultError(f"{text!r} is not an HRESULT (say e.g. 0x80094800)") from exc
    if not -(2**31) <= value <= 0xFFFFFFFF:
        raise FaultError(f"{text!r} is not a 32-bit HRESULT")
    return value & 0xFFFFFFFF


def fault_call(
    point: str,
    *,
    status: int = 503,
    times: int | None = None,
    hresult: str | None = None,
    caps: str | None = None,
    template: str | None = None,
    slot: str = "all",
    restart_after: float = 0.0,
) -> FaultCall:
    """The call that arms `point` (not the clock points: see `expiry_advance`)."""
    if times is not None and times < 1:
        raise FaultError("--times must be at least 1")
    if point in CLOUD_POINTS:
        return FaultCall("cloud", "PUT", f"/lab/faults/{point}", {"status": status, "times": times})
    if point == "ca-down":
        return FaultCall("ca", "PUT", "/lab/faults/down", {"status": status, "times": times})
    if point == "ca-refusing":
        code = parse_hresult(hresult) if hresult else CERTSRV_E_TEMPLATE_DENIED
        return FaultCall("ca", "PUT", "/lab/faults/refusing", {"hresult": code, "times": times})
    if point == "ndes-caps":
        words = [w.strip() for w in (caps or "").replace(";", ",").split(",") if w.strip()]
        return FaultCall("ndes", "PUT", "/lab/faults/caps", {"caps": words} if caps else {})
    if point == "ndes-template":
        if not template:
            raise FaultError("ndes-template needs --template NAME (a template name at the CA)")
        if slot != "all" and slot not in SLOTS:
            raise FaultError(f"--slot is all or one of {', '.join(SLOTS)}")
        slots = SLOTS.values() if slot == "all" else [SLOTS[slot]]
        return FaultCall("ndes", "PUT", "/lab/faults/templates", dict.fromkeys(slots, template))
    if point == "connector-crash":
        if not 0 <= restart_after <= 3600:
            raise FaultError("--restart-after is 0 to 3600 seconds")
        return FaultCall("connector", "POST", "/lab/crash", {"restartAfterSeconds": restart_after})
    if point in CLOCK_POINTS:
        raise FaultError(f"{point} moves the lab's clock: see expiry_advance")
    raise FaultError(f"unknown fault point {point!r}; one of {', '.join(POINTS)}")


def send(data: Path, state: LabState, call: FaultCall, caller: str = "admin") -> httpx.Response:
    """Make `call`; `caller`: who it is in the trace."""
    if call.party == "cloud":
        with admin_session(data, state, caller) as client:
            return client.request(call.method, call.path, json=call.body)
    if call.party == "connector":
        with connector_client(data, state, caller) as client:
            return client.request(call.method, call.path, json=call.body)
    if call.party not in ("ca", "ndes"):
        raise FaultError(f"no lab API at {call.party!r}")
    manager = ca_client(state, caller) if call.party == "ca" else ndes_client(state, caller=caller)
    with manager as client:
        return client.request(call.method, call.path, json=call.body)


def armed(data: Path, state: LabState, caller: str = "admin") -> dict[str, object]:
    """Every armed fault, by the party's name for it (`validation`, `ca-refusing`, `ndes-caps`),
    as the party describes it (a JSON value); a party that cannot be asked gives
    `<party>: <why>` (a string) instead."""
    found: dict[str, object] = {}
    for party, prefix in (("cloud", ""), ("ca", "ca-"), ("ndes", "ndes-")):
        try:
            answer = send(data, state, FaultCall(party, "GET", "/lab/faults"), caller)
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            found[party] = f"not reachable ({type(exc).__name__})"
            continue
        if answer.status_code != 200:
            found[party] = f"HTTP {answer.status_code}"
            continue
        for point, fault in answer.json().items():
            found[prefix + ("template" if point == "templates" else point)] = fault
    return found


def clear(data: Path, state: LabState) -> list[str]:
    """Clear the cloud's, the CA's and NDES's faults; the parties that could not be told."""
    failed: list[str] = []
    for party in ("cloud", "ca", "ndes"):
        try:
            answer = send(data, state, FaultCall(party, "DELETE", "/lab/faults"))
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            failed.append(f"{party} ({type(exc).__name__})")
            continue
        if answer.status_code != 204:
            failed.append(f"{party} (HTTP {answer.status_code})")
    return failed


def expiry_advance(data: Path, state: LabState, point: str, now: dt.datetime) -> float:
    """Seconds to move the lab's clock from `now` so that it is an hour past the notAfter of
    the connector's identity certificate (`connector-cert-expired`) or of NDES's RA
    certificates (`ra-expired`); 0 when it is already."""
    if point == "connector-cert-expired":
        with connector_client(data, state) as client:
            answer = client.get("/health")
        answer.raise_for_status()
        not_after = dt.datetime.fromisoformat(answer.json()["identity"]["notAfter"])
    elif point == "ra-expired":
        health = httpx.get(f"{state.url('ndes')}/health", timeout=10).json()
        not_after = max(
            dt.datetime.fromisoformat(health[role]["notAfter"])
            for role in ("raSigning", "raEncryption")
        )
    else:
        raise FaultError(f"{point} is not a clock point")
    return max(0.0, (not_after + PAST_EXPIRY - now).total_seconds())


def lab_clock(data: Path, state: LabState) -> dict[str, Any]:
    """The cloud's clock (`GET /lab/clock`): `now` and `offsetSeconds`."""
    with admin_session(data, state) as client:
        answer = client.get("/lab/clock")
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def advance_clock(
    data: Path, state: LabState, seconds: float
) -> tuple[dict[str, Any], dict[str, str]]:
    """Move the cloud's clock (it holds the lab's offset) by `seconds`, then every other
    party's to match. The cloud's answer, and what each other party said."""
    with admin_session(data, state) as client:
        answer = client.post("/lab/clock", json={"advanceSeconds": seconds})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    offset = body.get("offsetSeconds")
    said = sync_clocks(data, state, float(offset)) if offset is not None else {}
    return body, said


def expire(data: Path, state: LabState, point: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A clock point: move the lab's clock an hour past the certificate's end (not at all if
    it is already). The clock's answer and the other parties', as `advance_clock`."""
    now = dt.datetime.fromisoformat(lab_clock(data, state)["now"])
    seconds = expiry_advance(data, state, point, now)
    if seconds <= 0:
        return lab_clock(data, state), {}
    return advance_clock(data, state, seconds)


def armed_text(point: str, call: FaultCall) -> str:
    """What a user is told once `call` armed `point`."""
    body = call.body or {}
    count = f"{body.get('times') or 'every'} call(s) until cleared"
    if point == "ca-refusing":
        return f"{point}: the CA denies with 0x{body['hresult']:08X}, {count}"
    if point == "ndes-caps":
        return f"{point}: GetCACaps answers {', '.join(body.get('caps') or ['(no SHA-*)'])}"
    if point == "ndes-template":
        return f"{point}: {', '.join(f'{k}={v}' for k, v in body.items())}"
    if point == "connector-crash":
        return f"{point}: killed; `scep-lab up` restarts it in {body['restartAfterSeconds']} s"
    return f"{point}: HTTP {body.get('status')}, {count}"


def fault_text(fault: object) -> str:
    """A party's description of one armed fault, in a line."""
    if isinstance(fault, list):  # ndes-caps
        return "GetCACaps answers " + ", ".join(map(str, fault))
    if not isinstance(fault, dict):
        return str(fault)  # a party that could not be asked: why
    if "hresult" in fault:
        return f"HRESULT 0x{int(str(fault['hresult'])):08X}, {fault['times'] or 'until cleared'}"
    if "status" in fault:
        return f"HTTP {fault['status']}, {fault['times'] or 'until cleared'}"
    return ", ".join(f"{key}={value}" for key, value in fault.items())
