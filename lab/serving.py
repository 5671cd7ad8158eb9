"""Serving the parties of `scep-lab up` side by side on one event loop: start them in order,
stop them on SIGINT/SIGTERM, and restart a party that the lab crashed.

A crash (the connector's `POST /lab/crash`, see `connector.lab`) is what kill -9 does to a
process, done in place: the party's background agents are cancelled where they stand, its open
connections are reset and its requests cancelled, its listener closed; nothing of its own
shutdown runs but the release of its files and sockets (which the operating system does for a
killed process). After the restart delay (Windows' service recovery: "restart the service") a
new app is built from the party's data folder and started on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from connector.lab import cancel_agents, set_crash_hook

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
"""Seconds a party may take to start (NDES asks the CA for its RA certificates)."""
CRASH_TIMEOUT = 10.0
"""Seconds a crashed party may take to let go of its port and files."""


@dataclass(frozen=True)
class Party:
    name: str
    url: str
    config: uvicorn.Config
    """How the party is served: its app, host and port, protocol and TLS."""
    rebuild: Callable[[], uvicorn.Config] | None = None
    """How to build it again from its data folder, after a crash (the connector); its app is
    given the crash hook."""


class StartError(RuntimeError):
    pass


class _LabServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the runner owns the signals
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """An app that holds responses open (the console's live stream) is told first, through
        `app.state.closing`, so that they end before uvicorn waits for its connections."""
        closing = getattr(getattr(self.config.app, "state", None), "closing", None)
        if callable(closing):
            closing()
        await super().shutdown(sockets)


class _Supervisor:
    """The servers of one `serve()`, the tasks that run them, and the crashes in progress."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.servers: list[_LabServer] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.current: dict[str, tuple[_LabServer, asyncio.Task[None]]] = {}
        self.failed: list[str] = []

    def stop(self) -> None:
        self.stopping.set()
        for server in self.servers:
            server.force_exit = server.should_exit
            server.should_exit = True

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.create_task(work))

    async def start(self, party: Party, config: uvicorn.Config) -> bool:
        """Start `party` with `config` and wait (bounded) until it serves: False if it did not."""
        if party.rebuild is not None and isinstance(config.app, FastAPI):
            set_crash_hook(config.app, self._crash_hook(party))
        server = _LabServer(config)
        self.servers.append(server)
        task = asyncio.create_task(self._run(server, party.name))
        self.tasks.append(task)
        self.current[party.name] = (server, task)
        # uvicorn offers no event for "started"; poll its flag, bounded
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not server.started and not self.stopping.is_set() and not task.done():
            if loop.time() > deadline:
                self.failed.append(party.name)
                self.stop()
                return False
            await asyncio.sleep(0.02)
        return server.started and not self.failed

    async def wait(self) -> None:
        """Until every server has stopped, restarts included."""
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.gather(*self.tasks)

    async def _run(self, server: _LabServer, name: str) -> None:
        try:
            await server.serve()
        except SystemExit:  # bind or lifespan failure
            self.failed.append(name)
            self.stop()

    def _crash_hook(self, party: Party) -> Callable[[float], Coroutine[Any, Any, None]]:
        async def hook(restart_after: float) -> None:
            self.spawn(self._crash(party, restart_after))

        return hook

    async def _crash(self, party: Party, restart_after: float) -> None:
        server, task = self.current[party.name]
        app = server.config.app
        agents = cancel_agents(app) if isinstance(app, FastAPI) else 0
        for listener in getattr(server, "servers", []):
            listener.close()
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        for request in list(server.server_state.tasks):
            request.cancel()
        server.should_exit = True  # its own shutdown finds nothing left but files and sockets
        log.warning(
            "lab crash: %s killed (%d agents cancelled where they stood)", party.name, agents
        )
        await asyncio.wait({task}, timeout=CRASH_TIMEOUT)
        if not task.done():
            server.force_exit = True
            await asyncio.wait({task}, timeout=CRASH_TIMEOUT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=restart_after)
        if self.stopping.is_set() or party.rebuild is None:
            return
        try:
            config = party.rebuild()
        except Exception:
            log.exception("lab crash: %s could not be built again", party.name)
            self.failed.append(party.name)
            self.stop()
            return
        if await self.start(party, config):
            log.warning("lab crash: %s restarted from its data folder", party.name)


async def serve(
    parties: list[Party],
    *,
    started: asyncio.Event | None = None,
    stop_when: asyncio.Event | None = None,
) -> None:
    """Serve every party until SIGINT/SIGTERM (or `stop_when` is set). Parties start in order,
    each once the previous one is up (NDES asks the CA for its RA certificates at start; the
    cloud seeds its tenant)."""
    lab = _Supervisor()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lab.stop)
    watcher: asyncio.Task[None] | None = None
    if stop_when is not None:

        async def watch() -> None:
            await stop_when.wait()
            lab.stop()

        watcher = asyncio.create_task(watch())
    try:
        for party in parties:
            if not await lab.start(party, party.config) or lab.stopping.is_set():
                break
        if started is not None and not lab.failed:
            started.set()
        await lab.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if lab.failed:
        raise StartError(f"could not start: {', '.join(lab.failed)} (is the port in use?)")
