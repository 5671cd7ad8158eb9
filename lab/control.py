"""`scep-lab clock`, `scep-lab fault` and `scep-lab reset`: move the running lab's virtual clock,
arm and clear the parties' fault points (see `faults`), and start over. The clock goes through
the cloud's lab API (`/lab/clock`) as the demo tenant's administrator; each fault through its
party's lab API.

    scep-lab clock                      # now, by the lab's clock, and the offset
    scep-lab clock advance 61m          # every party of `scep-lab up` moves together
    scep-lab fault inject notification --times 3
    scep-lab fault inject ca-refusing --hresult 0x80094800
    scep-lab fault inject ca-down --times 2
    scep-lab fault inject ndes-caps                     # GetCACaps without SHA-*: iOS refuses
    scep-lab fault inject ndes-template --template NoSuchTemplate
    scep-lab fault inject connector-crash --restart-after 30
    scep-lab fault inject connector-cert-expired --yes  # the clock passes its notAfter
    scep-lab fault list | clear
    scep-lab reset --yes                # the lab stopped: delete its data folder
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console

from . import faults
from .challenge import LabCallFailed, admin_session
from .commands import DataOption
from .home import LabState, load_state, state_path

clock_app = typer.Typer(help="The running lab's virtual clock.", invoke_without_command=True)
fault_app = typer.Typer(
    help="Faults the parties inject (lab only): the cloud, the CA, NDES, the connector.",
    no_args_is_help=True,
)
console = Console()
T = TypeVar("T")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90s`, `61m`, `2h`, `30d`, or several (`1h30m`) → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip().lower())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text.lower()):
        raise ValueError(f"{text!r}: say e.g. 90s, 61m, 2h, 30d or 1h30m")
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
    try:
        seconds = parse_duration(by)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _move(ctx.obj, seconds)


def _move(data: Path, seconds: float) -> None:
    """The cloud's clock first (it holds the lab's offset), then every other party's to match."""
    _show_moved(*_lab_call(lambda state: faults.advance_clock(data, state, seconds), data))


def _lab_call(call: Callable[[LabState], T], data: Path) -> T:
    try:
        return call(_state(data))
    except httpx.HTTPStatusError as exc:
        console.print(f"[red]HTTP {exc.response.status_code}: {exc.response.text[:300]}[/red]")
        raise typer.Exit(1) from exc
    except (LabCallFailed, httpx.HTTPError) as exc:
        console.print(f"[red]the lab's cloud is not reachable: {exc}[/red]")
        raise typer.Exit(1) from exc


def _show_moved(body: dict[str, Any], said: dict[str, str]) -> None:
    offset = body.get("offsetSeconds")
    ahead = f"{offset / 60:.1f} min ahead of real time" if offset is not None else "system clock"
    typer.echo(f"{body['now']}  ({ahead})")
    for party, text in said.items():
        typer.echo(f"  {party}: {text}")


@fault_app.command("inject")
def inject(
    data: DataOption,
    point: Annotated[str, typer.Argument(help=f"One of: {', '.join(faults.POINTS)}.")],
    status: Annotated[int, typer.Option(min=500, max=599, help="HTTP status answered.")] = 503,
    times: Annotated[int | None, typer.Option(min=1, help="How many calls (default: all).")] = None,
    hresult: Annotated[
        str | None,
        typer.Option(help="ca-refusing: the CA's HRESULT (default 0x80094012, template denied)."),
    ] = None,
    caps: Annotated[
        str | None,
        typer.Option(help="ndes-caps: keywords, comma-separated (default: the lab's, no SHA-*)."),
    ] = None,
    template: Annotated[str | None, typer.Option(help="ndes-template: a template name.")] = None,
    slot: Annotated[
        str,
        typer.Option(help="ndes-template: all, signature, encryption or general-purpose."),
    ] = "all",
    restart_after: Annotated[
        float, typer.Option(min=0, max=3600, help="connector-crash: seconds it stays down.")
    ] = 0.0,
    yes: Annotated[bool, typer.Option("--yes", help="Clock points: do not ask.")] = False,
) -> None:
    """Arm a fault point (each through its party's lab API; see `fault list`)."""
    if point in faults.CLOCK_POINTS:
        _expire(data, point, yes)
        return
    try:
        call = faults.fault_call(
            point,
            status=status,
            times=times,
            hresult=hresult,
            caps=caps,
            template=template,
            slot=slot,
            restart_after=restart_after,
        )
    except faults.FaultError as exc:
        raise typer.BadParameter(str(exc)) from exc
    answer = _send(data, call)
    if answer.status_code not in (200, 202, 204):
        console.print(f"[red]HTTP {answer.status_code}: {answer.text[:300]}[/red]")
        raise typer.Exit(1)
    console.print(faults.armed_text(point, call))


def _send(data: DataOption, call: faults.FaultCall) -> httpx.Response:
    state = _state(data)
    try:
        return faults.send(data, state, call)
    except (LabCallFailed, httpx.HTTPError, OSError) as exc:
        console.print(f"[red]the lab's {call.party} is not reachable: {exc}[/red]")
        raise typer.Exit(1) from exc


def _expire(data: DataOption, point: str, yes: bool) -> None:
    what = "the connector's identity" if point == "connector-cert-expired" else "NDES's RA"
    if not yes and not typer.confirm(
        f"move the lab's clock past the end of {what} certificate? It never goes back "
        "(`scep-lab reset` starts over)"
    ):
        raise typer.Exit(1)
    try:
        moved = _lab_call(lambda state: faults.expire(data, state, point), data)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        console.print(f"[red]cannot tell when {what} certificate expires: {exc}[/red]")
        raise typer.Exit(1) from exc
    _show_moved(*moved)
    console.print(f"{point}: {what} certificate is out of date by the lab's clock")


@fault_app.command("list")
def list_faults(data: DataOption) -> None:
    """The armed faults of the cloud, the CA and NDES."""
    armed = faults.armed(data, _state(data))
    for point, fault in armed.items():
        typer.echo(f"{point}: {faults.fault_text(fault)}")
    if all(isinstance(fault, str) for fault in armed.values()):
        typer.echo("no fault armed")


@fault_app.command("clear")
def clear(data: DataOption) -> None:
    """Clear the cloud's, the CA's and NDES's faults (a crash and the clock stay as they are)."""
    failed = faults.clear(data, _state(data))
    if failed:
        console.print(f"[red]could not clear: {', '.join(failed)}[/red]")
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
