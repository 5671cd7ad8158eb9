"""The `scep-lab` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from . import __version__, challenge, commands, info
from .bench import bench_app
from .compose_init import compose_app
from .console.command import console
from .control import clock_app, fault_app, reset
from .demo import demo
from .devices import devices_app
from .scenario_cli import scenario_app
from .trace_cli import trace

app = typer.Typer(
    help="intune-scep-lab: a local emulator of the Microsoft Intune SCEP certificate flow.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(demo)
app.add_typer(bench_app, name="bench")
app.add_typer(devices_app, name="devices")
app.add_typer(clock_app, name="clock")
app.add_typer(fault_app, name="fault")
app.add_typer(scenario_app, name="scenario")
app.add_typer(compose_app, name="compose")
app.command()(reset)
app.command()(commands.up)
app.command()(commands.status)
app.command()(commands.otp)
app.command()(info.info)
app.command()(challenge.challenge)
app.command()(trace)
app.command()(console)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scep-lab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """intune-scep-lab: a local emulator of the Microsoft Intune SCEP certificate flow."""
