"""`scep-lab demo`: the lab in one command. On a fresh data folder it starts every party in this
process (SQLite, loopback ports that are free), has a Windows device get its certificate through
the Intune flow, has an attacker present that device's genuine challenge for another identity,
then prints each enrolment's trace as a sequence diagram.

It exits 0 only when both outcomes are the expected ones, by the scenarios' own checks (issued,
chained, reported; refused, nothing at the CA, the failure reported) and by the trace (what the
cloud decided, whether the CA was asked).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared.clock import OffsetClock
from shared.trace import TraceEvent, read_events, timeline, transactions

from .home import load_or_create_state, load_state, save_state, trace_path
from .procs import use_free_ports
from .scenarios import SCENARIOS, Lab, Verdict, run_scenario

console = Console()
HEADLINE = ("device-certificate", "intune-impersonation")
REPORT_WAIT = 15.0


@dataclass(frozen=True)
class Act:
    verdict: Verdict
    transactions: list[str]
    events: list[TraceEvent]


def _cloud_decision(events: list[TraceEvent]) -> str | None:
    for event in events:
        if event.party == "cloud" and event.operation == "validateRequest":
            return str(event.summary.get("decision"))
    return None


def _asked_ca(events: list[TraceEvent]) -> bool:
    return any(e.party == "ca" and e.operation == "submit" for e in events)


def trace_checks(acts: dict[str, Act]) -> list[str]:
    """What the trace must show for the demo to pass; the problems found."""
    problems: list[str] = []
    good, attack = acts[HEADLINE[0]], acts[HEADLINE[1]]
    if _cloud_decision(good.events) != "Success":
        problems.append("the trace does not show the cloud validating the device's request")
    if not _asked_ca(good.events):
        problems.append("the trace does not show the CA issuing the device's certificate")
    if not _reported(good.events):
        problems.append("the trace does not show the issuance reported to the cloud")
    if _cloud_decision(attack.events) != "SubjectNameMismatch":
        problems.append("the trace does not show the cloud refusing the impersonation")
    if _asked_ca(attack.events):
        problems.append("the impersonation reached the CA")
    return problems


def _run_acts(data: Path, say: Callable[[str], None]) -> dict[str, Act]:
    state = load_state(data)
    assert state is not None
    acts: dict[str, Act] = {}
    for name in HEADLINE:
        item = SCENARIOS[name]
        console.rule(f"{item.name}: {item.description}")
        before = set(transactions(read_events(trace_path(data))))
        verdict = run_scenario(item, Lab(data, state, say=say))
        colour = "green" if verdict.passed else "red"
        word = "PASS" if verdict.passed else "FAIL"
        console.print(f"[{colour}]{word}[/{colour}] {item.name}: {verdict.reason}")
        new = [tx for tx in transactions(read_events(trace_path(data))) if tx not in before]
        acts[name] = Act(verdict, new, [])  # its events: below, once the reports are in
    # the connector reports an issuance from its outbox, a moment after the device has it
    deadline = time.monotonic() + REPORT_WAIT
    while True:
        events = read_events(trace_path(data))
        acts = {
            name: replace(act, events=[e for tx in act.transactions for e in timeline(events, tx)])
            for name, act in acts.items()
        }
        if _reported(acts[HEADLINE[0]].events) or time.monotonic() > deadline:
            return acts
        time.sleep(0.2)


def _reported(events: list[TraceEvent]) -> bool:
    return any(e.operation == "successNotification" and e.party == "cloud" for e in events)


async def _serve_and_run(data: Path) -> dict[str, Act]:
    from .runner import parties, serve

    state = load_state(data)
    assert state is not None
    started, finished = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(
        serve(parties(data, state, OffsetClock()), started=started, stop_when=finished)
    )
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait({server, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiting.cancel()
        await server  # raises StartError
    try:
        return await asyncio.to_thread(_run_acts, data, lambda text: console.print(f"  · {text}"))
    finally:
        finished.set()
        await server


def _log_to(path: Path) -> None:
    """The parties' logs go to a file: the terminal is for the scenarios and the trace."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _fresh(data: Path | None) -> Path:
    if data is None:
        return Path(tempfile.mkdtemp(prefix="scep-lab-demo-"))
    if data.exists() and any(data.iterdir()):
        console.print(f"[red]{data} is not empty: the demo starts on a fresh data folder[/red]")
        raise typer.Exit(2)
    return data


def demo(
    data: Annotated[
        Path | None,
        typer.Option(
            help="An empty or new folder for the demo's lab (default: a new temporary one)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option(help="Decoded payloads under each message of the trace.")
    ] = False,
) -> None:
    """Start every party, enrol a device through Intune, try an impersonation, show the trace."""
    from .runner import StartError
    from .trace_view import render_timeline

    folder = _fresh(data)
    state = load_or_create_state(folder)
    use_free_ports(state.ports)
    state.policy = "intune"
    save_state(folder, state)
    console.print(f"data folder: {folder}  (every party in this process, SQLite, 127.0.0.1)")
    _log_to(folder / "lab.log")
    try:
        acts = asyncio.run(_serve_and_run(folder))
    except StartError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from exc
    for name, act in acts.items():
        for tx in act.transactions:
            console.rule(f"trace of {name}: transaction {tx}")
            render_timeline(console, timeline(read_events(trace_path(folder)), tx), verbose=verbose)
    problems = trace_checks(acts)
    passed = all(act.verdict.passed for act in acts.values()) and not problems
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    console.rule("verdict")
    if passed:
        console.print(
            "[green]PASS[/green]: the device got its certificate through Intune; the same "
            "genuine challenge used for another identity was refused by the cloud "
            "(SubjectNameMismatch) and never reached the CA."
        )
    else:
        console.print("[red]FAIL[/red]: see above")
    console.print(
        f"the lab's data and trace stay in {folder}: `scep-lab trace --data {folder} --verbose`"
    )
    raise typer.Exit(0 if passed else 1)
