"""`python -m ndes_plugin`: NDES alone, settings from `NDES_*` environment variables.

HTTP on `NDES_PORT`; with `NDES_HTTPS_PORT`, HTTPS as well (IIS on the NDES host binds both),
with the NDES host's certificate (`NDES_TLS_CERT_PATH`, `NDES_TLS_KEY_PATH`): one app, two
servers, the HTTPS one started once the HTTP one's start-up has made the app's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from shared.clock import OffsetClock
from shared.tls import KEEP_ALIVE_SECONDS, server_context, uvicorn_tls_config

from .app import create_app
from .settings import NdesSettings


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # `_serve_both` owns SIGINT and SIGTERM
        yield


def _https_config(app: FastAPI, settings: NdesSettings) -> uvicorn.Config:
    assert settings.https_port is not None
    assert settings.tls_cert_path is not None
    assert settings.tls_key_path is not None
    config = uvicorn_tls_config(
        app,
        host=settings.host,
        port=settings.https_port,
        context=server_context(settings.tls_cert_path, settings.tls_key_path),
        log_level=settings.log_level.lower(),
    )
    config.lifespan = "off"  # the HTTP server's lifespan made the state both serve
    config.h11_max_incomplete_event_size = settings.max_request_head
    return config


async def _serve_both(http: uvicorn.Config, https: uvicorn.Config) -> int:
    """Serve HTTP, then HTTPS once HTTP has started, until SIGINT/SIGTERM stops both; 3 when
    either could not start (as uvicorn.run)."""
    servers = [_Server(http), _Server(https)]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.force_exit = server.should_exit
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(servers[0].serve())]
    # uvicorn offers no event for "started": poll its flag (start-up waits for the CA, bounded
    # by ca_startup_wait_seconds)
    while not servers[0].started and not tasks[0].done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if servers[0].started and not servers[0].should_exit:
        tasks.append(asyncio.create_task(servers[1].serve()))
    for task in asyncio.as_completed(tasks):
        await task
        stop()  # one stopped (or failed to start): stop the other
    return 0 if all(server.started for server in servers) else 3


def main() -> int:
    settings = NdesSettings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = create_app(settings, clock=OffsetClock() if settings.lab_api else None)
    # h11 with a larger request-head limit, so long GET PKIOperation URLs get in
    http = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        http="h11",
        h11_max_incomplete_event_size=settings.max_request_head,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    if settings.https_port is None:
        server = uvicorn.Server(http)
        server.run()
        return 0 if server.started else 3
    return asyncio.run(_serve_both(http, _https_config(app, settings)))


if __name__ == "__main__":
    sys.exit(main())
