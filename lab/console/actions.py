"""What the console's forms change: the clock and the fault points, through the same functions as
`scep-lab clock` and `scep-lab fault` (lab.faults). A form is checked here, option by option,
before anything is sent: a bad one is a 400 that says which option and why, and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import HTTPException

from .. import faults
from ..challenge import LabCallFailed
from ..control import parse_duration
from ..home import LabState
from .intune import cloud_errors, passed_on

MAX_ADVANCE = 20 * 365 * 86400.0
"""The cloud moves its clock by at most this much a call."""
_TEXT = {"hresult", "caps", "template", "slot"}
_NUMBER = {"status", "times", "restart_after"}


def party_names(said: dict[str, str]) -> dict[str, str]:
    """The other parties' answers, by the names the pages use (`ndes-general`)."""
    return {party.replace("_", "-"): text for party, text in said.items()}


def advance(data: Path, state: LabState, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/clock` `{"advance": "61m"}`: every party's clock moves forward together."""
    text = body.get("advance")
    if not isinstance(text, str):
        raise HTTPException(400, 'say how far to move the clock: {"advance": "61m"}')
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if not 0 < seconds <= MAX_ADVANCE:
        raise HTTPException(400, "the clock moves forward, by at most 20 years a time")
    with cloud_errors():
        moved, said = faults.advance_clock(data, state, seconds)
    return moved | {"parties": party_names(said)}


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """The form's options as `fault_call` takes them; a 400 for one of the wrong kind."""
    for name in _TEXT:
        if body.get(name) not in (None, "") and not isinstance(body[name], str):
            raise HTTPException(400, f"{name} is text (e.g. 0x80094800, SHA-256,AES)")
    for name in _NUMBER:
        value = body.get(name)
        if value not in (None, "") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise HTTPException(400, f"{name} is a number")
    return {
        "status": int(body.get("status") or 503),
        "times": None if body.get("times") in (None, "") else int(body["times"]),
        "hresult": body.get("hresult") or None,
        "caps": body.get("caps") or None,
        "template": body.get("template") or None,
        "slot": str(body.get("slot") or "all"),
        "restart_after": float(body.get("restart_after") or 0.0),
    }


def arm(data: Path, state: LabState, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/faults`: what `scep-lab fault inject` does, from a form."""
    point = body.get("point")
    if point not in faults.POINTS:
        raise HTTPException(400, f"no fault point {point!r}: one of {', '.join(faults.POINTS)}")
    if point in faults.CLOCK_POINTS:
        if body.get("confirm") is not True:
            raise HTTPException(400, f"{point} moves the lab's clock for good: confirm it")
        try:
            with cloud_errors():
                moved, said = faults.expire(data, state, point)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise HTTPException(502, f"cannot tell when that certificate expires: {exc}") from exc
        return {
            "armed": f"{point}: the lab's clock is now {moved['now']}",
            "parties": party_names(said),
        }
    try:
        call = faults.fault_call(point, **_options(body))
    except faults.FaultError as exc:
        raise HTTPException(400, str(exc)) from exc
    try:
        answer = faults.send(data, state, call)
    except (LabCallFailed, httpx.HTTPError, OSError) as exc:
        raise HTTPException(502, f"the lab's {call.party} is not reachable: {exc}") from exc
    passed_on(answer)
    return {"armed": faults.armed_text(point, call)}
