"""`scep-lab up`'s serving: a party with a `rebuild` gets the crash hook; a crash cancels its
agents where they stand and resets its connections, and a new app from `rebuild` serves on the
same port after the delay; `stop_when` stops everything, the restarted party too."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

import httpx
import uvicorn
from fastapi import FastAPI, Request

from connector.lab import keep_agents
from lab.procs import free_port
from lab.serving import Party, serve

_builds = itertools.count(1)


def _build(port: int, agents: list[asyncio.Task[None]]) -> uvicorn.Config:
    """A party like the connector: an agent in its lifespan, a route that asks for a crash."""
    build = next(_builds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        agent = asyncio.create_task(asyncio.sleep(3600))
        agents.append(agent)
        keep_agents(app, [agent])
        yield
        agent.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.get("/build")
    async def which() -> int:
        return build

    @app.post("/crash")
    async def crash(request: Request) -> None:
        await request.app.state.lab_crash(0.2)

    return uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


async def _build_number(client: httpx.AsyncClient) -> int | None:
    try:
        return int((await client.get("/build")).json())
    except httpx.TransportError:
        return None


async def test_a_crashed_party_is_rebuilt_on_its_port() -> None:
    port = free_port()
    agents: list[asyncio.Task[None]] = []
    party = Party(
        "connector",
        f"http://127.0.0.1:{port}",
        _build(port, agents),
        rebuild=lambda: _build(port, agents),
    )
    started, stop = asyncio.Event(), asyncio.Event()
    serving = asyncio.create_task(serve([party], started=started, stop_when=stop))
    await asyncio.wait_for(started.wait(), 10)
    async with httpx.AsyncClient(base_url=party.url, timeout=5) as client:
        first = await _build_number(client)
        assert first is not None
        assert (await client.post("/crash")).status_code == 200
        for _ in range(200):
            now = await _build_number(client)
            if now is not None and now != first:
                break
            await asyncio.sleep(0.05)
        assert now == first + 1
    assert agents[0].cancelled()  # cancelled where it stood, not finished
    assert not agents[1].done()  # the new app's agent runs
    stop.set()
    await asyncio.wait_for(serving, 15)
    assert agents[1].done()
