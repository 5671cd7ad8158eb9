"""`scep-lab scenario list` (a line each: name, then what it shows) and `scep-lab scenario run
NAME... | --all` against the running lab: each prints its steps and ends with PASS or FAIL and
the reason; the exit code is 0 only when every verdict held. `--all` leaves out the scenarios
that move the lab's clock past a certificate's end for good (run them by name, last)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from .commands import DataOption
from .home import load_state
from .scenarios import SCENARIOS, Lab, run_scenario
from .scenarios.base import FLEET_SIZE_ENV

scenario_app = typer.Typer(help="Scenarios that end in a checked verdict.", no_args_is_help=True)
console = Console()


@scenario_app.command("list")
def list_scenarios() -> None:
    width = max(len(name) for name in SCENARIOS)
    for item in SCENARIOS.values():
        mark = " (moves the clock for good: by name only, not in --all)" if item.for_good else ""
        typer.echo(f"{item.name:<{width}}  {item.description}{mark}")


@scenario_app.command("run")
def run(
    data: DataOption,
    names: Annotated[list[str] | None, typer.Argument(help="Scenario names.")] = None,
    all_scenarios: Annotated[bool, typer.Option("--all", help="Every scenario.")] = False,
    fleet_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=5000,
            help=f"Devices in the fleet scenario (default ${FLEET_SIZE_ENV} or 500).",
        ),
    ] = None,
) -> None:
    """Run scenarios against the running lab (`scep-lab up`, policy intune)."""
    state = load_state(data)
    if state is None or state.tenant is None:
        console.print(f"no running lab in {data}: run `scep-lab up` first")
        raise typer.Exit(2)
    if state.policy != "intune":
        console.print("these scenarios need the Intune policy: `scep-lab up --policy intune`")
        raise typer.Exit(2)
    every = [name for name, item in SCENARIOS.items() if not item.for_good]
    chosen = every if all_scenarios else list(names or [])
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown or not chosen:
        console.print(f"unknown scenario(s): {', '.join(unknown)}" if unknown else "name one")
        raise typer.Exit(2)
    failed = 0
    for name in chosen:
        item = SCENARIOS[name]
        console.rule(f"{item.name}: {item.description}")
        lab = Lab(data, state, say=lambda text: console.print(f"  · {text}"))
        if fleet_size is not None:
            lab.fleet_size = fleet_size
        verdict = run_scenario(item, lab)
        if verdict.passed:
            console.print(
                f"[green]PASS[/green] {item.name}: {verdict.reason} ({verdict.seconds:.1f} s)"
            )
        else:
            failed += 1
            console.print(
                f"[red]FAIL[/red] {item.name}: {verdict.reason} ({verdict.seconds:.1f} s)"
            )
    console.print(f"{len(chosen) - failed} of {len(chosen)} passed")
    raise typer.Exit(0 if failed == 0 else 1)
