"""`scep-lab trace [TRANSACTION_ID]`: what every party recorded of one enrolment, in the terminal.

Reads `<data>/trace/*.jsonl` (each party's own file). With a transaction ID (or a unique prefix
of one) it draws that transaction's timeline; without one, the recent transactions and then the
newest one's timeline; `--list` stops after the list. `--json` prints the same selection for
machines: the events as a JSON array (with `--list`, the list's rows).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from shared.trace import TraceEvent, read_events, transactions

from .commands import DataOption
from .home import trace_path
from .trace_view import render_list, render_timeline, select_transaction, transaction_rows

console = Console()


def trace(
    data: DataOption,
    transaction_id: Annotated[
        str | None,
        typer.Argument(
            metavar="TRANSACTION_ID",
            help="A SCEP transaction ID, or the start of one. Default: the newest.",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Show each message's decoded payload (CSR, challenge claims, "
            "CMS layers, certificate).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the selected events as a JSON array.")
    ] = False,
    list_only: Annotated[
        bool, typer.Option("--list", help="Only list the recent transactions.")
    ] = False,
) -> None:
    """Show the trace: every message of an enrolment between device, NDES, policy module,
    connector, cloud and CA, as a sequence diagram with the reason for each failure."""
    folder = trace_path(data)
    if not folder.is_dir():
        _fail(
            f"no trace in {folder}: start the lab with `scep-lab up` and enrol a device "
            "(every party then appends what it sends and receives there)"
        )
    events = read_events(folder)
    if list_only:
        if as_json:
            typer.echo(json.dumps(transaction_rows(events), indent=2))
        else:
            render_list(console, events)
        return
    if transaction_id is None:
        known = transactions(events)
        if not known:
            _fail(f"no SCEP transaction in {folder} yet: enrol a device first")
        chosen = known[-1]
        if not as_json:
            render_list(console, events)
            console.print()
    else:
        chosen = find_transaction(events, transaction_id)
    selected = select_transaction(events, chosen)
    if as_json:
        typer.echo(events_json(selected))
    else:
        render_timeline(console, selected, verbose=verbose)


def find_transaction(events: list[TraceEvent], wanted: str) -> str:
    """The transaction `wanted` names: itself, or the one transaction that starts with it; a
    correlation ID (a whole one) names the messages that carried it."""
    known = transactions(events)
    if wanted in known or any(e.correlation_id == wanted for e in events):
        return wanted
    matches = [tx for tx in known if tx.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        _fail(f"unknown transaction {wanted!r}: `scep-lab trace --list` shows the recent ones")
    _fail(f"{wanted!r} is the start of {len(matches)} transactions: give more of it")


def events_json(events: list[TraceEvent]) -> str:
    """The events as a JSON array of objects, each `TraceEvent.from_mapping` reads back."""
    return json.dumps([dataclasses.asdict(e) for e in events], indent=2, default=str)


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(2)
