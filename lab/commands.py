"""`scep-lab up`, `status` and `otp`: start the lab, ask it how it is, get a one-time password."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from .home import default_data_dir, load_or_create_state, load_state, save_state, tls_root_path
from .ndes_admin import page_text, password_on_page

DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        help="The lab's data folder (state of every party).",
        default_factory=default_data_dir,
        show_default="~/.local/share/intune-scep-lab",
    ),
]
console = Console()


def up(
    data: DataOption,
    policy: Annotated[
        str, typer.Option(help="NDES policy module: otp (one-time passwords) or none.")
    ] = "otp",
) -> None:
    """Run every party in this process on loopback ports until Ctrl-C. The first run makes the
    lab PKI and a demo tenant in the cloud, and prints its credentials (`scep-lab info` again)."""
    from .info import credentials_table
    from .runner import StartError, parties, serve

    if policy not in ("otp", "none"):
        raise typer.BadParameter("policy must be otp or none")
    state = load_or_create_state(data)
    state.policy = policy
    save_state(data, state)
    console.print(f"data folder: {data}")
    lab = parties(data, state)
    started = asyncio.Event()

    async def main() -> None:
        async def announce() -> None:
            await started.wait()
            table = Table(title="intune-scep-lab is up (Ctrl-C stops it)")
            table.add_column("party")
            table.add_column("URL", overflow="fold")
            for party in lab:
                table.add_row(party.name, party.url)
            table.add_row("SCEP URL", state.scep_url)
            table.add_row(
                "NDES admin page",
                f"{state.url('ndes')}/certsrv/mscep_admin/ "
                f"(user {state.ndes_admin_user}; `scep-lab otp` fetches a password)",
            )
            console.print(table)
            console.print(credentials_table(data, state))

        waiter = asyncio.create_task(announce())
        try:
            await serve(lab, started=started)
        finally:
            waiter.cancel()

    try:
        asyncio.run(main())
    except StartError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(3) from exc
    console.print("stopped")


def status(data: DataOption) -> None:
    """Each party's health; exit code 0 only when all are healthy."""
    state = load_state(data)
    if state is None:
        console.print(f"no lab in {data}: run `scep-lab up` first")
        raise typer.Exit(2)
    table = Table(title=f"lab in {data}")
    table.add_column("party")
    table.add_column("URL")
    table.add_column("health")
    healthy = True
    root = tls_root_path(data)
    # the cloud is HTTPS with the lab's TLS root, as clients of the real one trust Microsoft's
    verify = ssl.create_default_context(cafile=str(root)) if root.exists() else True
    with httpx.Client(timeout=5, verify=verify) as client:
        for party in ("cloud", "ca", "ndes"):
            url = state.url(party)
            try:
                response = client.get(f"{url}/health")
                ok = response.status_code == 200
                detail = "ok" if ok else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"unreachable ({type(exc).__name__})"
            healthy &= ok
            table.add_row(party, url, detail if ok else f"[red]{detail}[/red]")
    console.print(table)
    raise typer.Exit(0 if healthy else 1)


def otp(data: DataOption) -> None:
    """Fetch a fresh one-time password from NDES's admin page, as an administrator would."""
    state = load_state(data)
    if state is None:
        console.print(f"no lab in {data}: run `scep-lab up` first")
        raise typer.Exit(2)
    url = f"{state.url('ndes')}/certsrv/mscep_admin/"
    try:
        response = httpx.get(
            url, auth=(state.ndes_admin_user, state.ndes_admin_password), timeout=10
        )
    except httpx.HTTPError as exc:
        console.print(f"NDES is not reachable at {url}: {exc}")
        raise typer.Exit(1) from exc
    password = password_on_page(response.content)
    if response.status_code != 200 or password is None:
        full = "cache is full" in page_text(response.content)
        reason = "The password cache is full." if full else f"HTTP {response.status_code}"
        console.print(f"no password: {reason}")
        raise typer.Exit(1)
    typer.echo(password)
