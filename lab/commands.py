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

from .home import (
    LAB_FORMAT,
    POLICIES,
    default_data_dir,
    load_or_create_state,
    load_state,
    save_state,
    tls_root_path,
)
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
        str,
        typer.Option(
            help="NDES policy module: intune (the Intune module asks the connector, which asks "
            "the cloud), otp (NDES's own one-time passwords: the general SCEP workflow) or none."
        ),
    ] = "intune",
    only: Annotated[
        str | None,
        typer.Option(
            help="Serve only these parties (comma-separated: cloud, ca, connector, ndes), to "
            "run the others in other processes with the same data folder. Start the cloud first: "
            "it makes the demo tenant."
        ),
    ] = None,
) -> None:
    """Run every party in this process on loopback ports until Ctrl-C. The first run makes the
    lab PKI and a demo tenant in the cloud, signs the connector in as the tenant's administrator,
    and prints the credentials (`scep-lab info` again)."""
    from .info import credentials_table
    from .runner import StartError, parties, serve

    if policy not in POLICIES:
        raise typer.BadParameter(f"policy must be one of {', '.join(POLICIES)}")
    state = load_or_create_state(data)
    if state.format != LAB_FORMAT:
        console.print(
            f"[red]{data} was made by an earlier intune-scep-lab (data format {state.format}; "
            f"this one writes {LAB_FORMAT}) and cannot be upgraded in place: delete the folder, "
            "or start another with --data[/red]"
        )
        raise typer.Exit(2)
    state.policy = policy
    save_state(data, state)
    console.print(f"data folder: {data}")
    lab = parties(data, state)
    if only is not None:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        if "ndes" in wanted:
            wanted.add("ndes-https")  # one NDES, two bindings
        unknown = wanted - {party.name for party in lab}
        if unknown or not wanted:
            known = ", ".join(party.name for party in lab)
            raise typer.BadParameter(f"--only takes some of: {known} (policy {policy})")
        lab = [party for party in lab if party.name in wanted]
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
            if state.policy == "otp":
                table.add_row(
                    "NDES admin page",
                    f"{state.url('ndes')}/certsrv/mscep_admin/ "
                    f"(user {state.ndes_admin_user}; `scep-lab otp` fetches a password)",
                )
            elif state.policy == "intune":
                table.add_row("challenges", "`scep-lab challenge DEVICE` (from the cloud)")
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


def _trust_for(data: Path, party: str) -> ssl.SSLContext | bool:
    """The cloud serves with a certificate from the lab's public TLS root (as the real one does
    with Microsoft's); the connector's local API with the NDES host's, from the enterprise CA."""
    if party == "cloud":
        root = tls_root_path(data)
    elif party == "connector":
        root = data / "pki" / "root-ca.pem"
    else:
        return True
    return ssl.create_default_context(cafile=str(root)) if root.exists() else True


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
    for party in ("cloud", "ca", "connector", "ndes", "ndes_general", "console"):
        if party in ("connector", "ndes_general") and state.policy != "intune":
            continue
        url = state.url(party)
        try:
            with httpx.Client(timeout=5, verify=_trust_for(data, party)) as client:
                response = client.get(f"{url}/health")
            ok = response.status_code == 200
            detail = "ok" if ok else f"HTTP {response.status_code}"
        except (httpx.HTTPError, OSError, ssl.SSLError) as exc:
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
