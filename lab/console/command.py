"""`scep-lab console`: the lab console alone, for a lab whose parties run elsewhere (docker
compose's `console` service; `scep-lab up` serves it itself)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ..commands import DataOption
from ..home import load_state


def console(
    data: DataOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: lab.json's, 8000).")] = None,
) -> None:
    """Serve the lab console (the web page) for the lab in the data folder."""
    from ..runner import console_config
    from ..serving import Party, StartError, serve

    state = load_state(data)
    if state is None:
        typer.echo(f"no lab in {data}: run `scep-lab up` (or `scep-lab compose init`) first")
        raise typer.Exit(2)
    config = console_config(data, host, port or state.ports.console)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{config.port}"
    typer.echo(f"the lab console: {url}/ (Ctrl-C stops it)")
    try:
        asyncio.run(serve([Party("console", url, config)]))
    except StartError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(3) from exc
