"""`scep-lab clock`, `scep-lab fault` and `scep-lab reset`: move the running lab's virtual clock,
arm and clear the cloud's fault points, and start over. The first two go through the cloud's
lab API (`/lab/clock`, `/lab/faults`) as the demo tenant's administrator.

    scep-lab clock                      # now, by the lab's clock, and the offset
    scep-lab clock advance 61m          # every party of `scep-lab up` moves together
    scep-lab fault inject notification --times 3
    scep-lab fault list | clear
    scep-lab reset --yes                # the lab stopped: delete its data folder
"""

from __future__ import annotations

import re
import shutil
from typing import Annotated

import httpx
import typer
from rich.console import Console

from .challenge import LabCallFailed, admin_session
from .commands import DataOption
from .home import LabState, load_state, state_path

clock_app = typer.Typer(help="The running lab's virtual clock.", invoke_without_command=True)
fault_app = typer.Typer(help="Faults the cloud injects (lab only).", no_args_is_help=True)
console = Console()

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
FAULT_POINTS = ("validation", "notification")


def parse_duration(text: str) -> float:
    """`90s`, `61m`, `2h`, `30d`, or several (`1h30m`) → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text.lower()):
        raise typer.BadParameter(f"{text!r}: say e.g. 90s, 61m, 2h, 30d or 1h30m")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _state(data: DataOption) -> LabState:
    state = load_state(data)
    if state is None:
        console.print(f"no lab in {data}: run `scep-lab up` first")
        raise typer.Exit(2)
    return state


def _call(data: DataOption, method: str, path: str, body: object | None = None) -> httpx.Response:
    state = _state(data)
    try:
        with admin_session(data, state) as client:
            return client.request(method, path, json=body)
    except (LabCallFailed, httpx.HTTPError) as exc:
        console.print(f"[red]the lab's cloud is not reachable: {exc}[/red]")
        raise typer.Exit(1) from exc


def _show_clock(answer: httpx.Response) -> None:
    if answer.status_code != 200:
        console.print(f"[red]HTTP {answer.status_code}: {answer.text[:300]}[/red]")
        raise typer.Exit(1)
    body = answer.json()
    offset = body.get("offsetSeconds")
    ahead = f"{offset / 60:.1f} min ahead of real time" if offset is not None else "system clock"
    typer.echo(f"{body['now']}  ({ahead})")


@clock_app.callback()
def clock(ctx: typer.Context, data: DataOption) -> None:
    """Show the lab's clock (with no subcommand)."""
    ctx.obj = data
    if ctx.invoked_subcommand is None:
        _show_clock(_call(data, "GET", "/lab/clock"))


@clock_app.command("advance")
def advance(
    ctx: typer.Context, by: Annotated[str, typer.Argument(help="e.g. 61m, 2h, 30d.")]
) -> None:
    """Move every party's clock forward (challenges expire, certificates come due)."""
    seconds = parse_duration(by)
    _show_clock(_call(ctx.obj, "POST", "/lab/clock", {"advanceSeconds": seconds}))


@fault_app.command("inject")
def inject(
    data: DataOption,
    point: Annotated[str, typer.Argument(help="validation or notification.")],
    status: Annotated[int, typer.Option(min=500, max=599, help="HTTP status answered.")] = 503,
    times: Annotated[int | None, typer.Option(min=1, help="How many calls (default: all).")] = None,
) -> None:
    """Make the cloud answer calls at POINT with an HTTP error."""
    if point not in FAULT_POINTS:
        raise typer.BadParameter(f"point must be one of {', '.join(FAULT_POINTS)}")
    answer = _call(data, "PUT", f"/lab/faults/{point}", {"status": status, "times": times})
    if answer.status_code != 204:
        console.print(f"[red]HTTP {answer.status_code}: {answer.text[:300]}[/red]")
        raise typer.Exit(1)
    console.print(f"{point}: HTTP {status}, {times or 'every'} call(s) until cleared")


@fault_app.command("list")
def list_faults(data: DataOption) -> None:
    answer = _call(data, "GET", "/lab/faults")
    armed = answer.json() if answer.status_code == 200 else {}
    for point, fault in armed.items():
        typer.echo(f"{point}: HTTP {fault['status']}, {fault['times'] or 'until cleared'}")
    if not armed:
        typer.echo("no fault armed")


@fault_app.command("clear")
def clear(data: DataOption) -> None:
    answer = _call(data, "DELETE", "/lab/faults")
    if answer.status_code != 204:
        console.print(f"[red]HTTP {answer.status_code}: {answer.text[:300]}[/red]")
        raise typer.Exit(1)
    console.print("faults cleared")


def reset(
    data: DataOption,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete the lab's data folder (PKI, tenant, every party's database), once it is stopped."""
    state = load_state(data)
    if state is None:
        console.print(f"nothing to reset: no lab in {data}")
        return
    for party in ("cloud", "ca", "ndes"):
        try:
            httpx.get(f"{state.url(party)}/health", timeout=1, verify=False)
        except httpx.HTTPError:
            continue
        console.print(f"[red]the lab is running ({party} answers): stop it first[/red]")
        raise typer.Exit(1)
    if not yes and not typer.confirm(f"delete {data} and everything in it?"):
        raise typer.Exit(1)
    if not state_path(data).exists():
        raise typer.Exit(1)
    shutil.rmtree(data)
    console.print(f"deleted {data}")
