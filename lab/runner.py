"""`scep-lab up`: every party built so far, in one process, on loopback ports.

Each party is an ordinary app from its own `create_app(settings)`; this module only decides the
settings (all state under one data folder) and serves the apps side by side with uvicorn. The
runner owns SIGINT and SIGTERM: the first stops every server gracefully, a second stops waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from ca_sim.app import create_app as create_ca
from ca_sim.settings import CaSettings
from ndes_plugin.app import create_app as create_ndes
from ndes_plugin.settings import NdesSettings
from shared.pki import build_lab_pki, default_lab_spec

from .home import LabState

log = logging.getLogger(__name__)

PKI_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""Fixed, so that the lab PKI is the same bytes for the same seed."""


@dataclass(frozen=True)
class Party:
    name: str
    url: str
    app: FastAPI
    port: int
    max_request_head: int | None = None
    """For NDES: h11 with a larger request-head limit, so long GET PKIOperation URLs get in."""


def build_pki(data: Path, state: LabState) -> None:
    spec = default_lab_spec(bytes.fromhex(state.seed), PKI_NOT_BEFORE)
    build_lab_pki(spec, data / "pki")


def ca_settings(data: Path, state: LabState) -> CaSettings:
    return CaSettings(
        host=state.host,
        port=state.ports.ca,
        data_dir=data / "ca",
        pki_dir=data / "pki",
        public_base_url=state.url("ca"),
        admin_token=SecretStr(state.ca_admin_token),
    )


def ndes_settings(data: Path, state: LabState) -> NdesSettings:
    return NdesSettings(
        host=state.host,
        port=state.ports.ndes,
        data_dir=data / "ndes",
        ca_url=state.url("ca"),
        ca_admin_token=SecretStr(state.ca_admin_token),
        admin_user=SecretStr(state.ndes_admin_user),
        admin_password=SecretStr(state.ndes_admin_password),
        policy="none" if state.policy == "none" else "otp",
        # the MSCEP registry values of the lab: a device template for general-purpose (and
        # encryption-only) requests, a user template with secure e-mail for signature-only ones
        general_purpose_template="IntuneDeviceCert",
        encryption_template="IntuneDeviceCert",
        signature_template="IntuneUserCert",
    )


def parties(data: Path, state: LabState) -> list[Party]:
    """In start order: a party's dependencies come first."""
    build_pki(data, state)
    ndes = ndes_settings(data, state)
    return [
        Party("ca", state.url("ca"), create_ca(ca_settings(data, state)), state.ports.ca),
        Party(
            "ndes", state.url("ndes"), create_ndes(ndes), state.ports.ndes, ndes.max_request_head
        ),
    ]


class _LabServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the runner owns the signals
        yield


START_TIMEOUT = 60.0
"""Seconds a party may take to start (NDES asks the CA for its RA certificates)."""


class StartError(RuntimeError):
    pass


async def serve(host: str, parties: list[Party], *, started: asyncio.Event | None = None) -> None:
    """Serve every party until SIGINT/SIGTERM. Parties start in order, each once the previous
    one is up (NDES asks the CA for its RA certificates at start)."""
    servers: list[_LabServer] = []
    stopping = asyncio.Event()

    def stop() -> None:
        stopping.set()
        for server in servers:
            server.force_exit = server.should_exit
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks: list[asyncio.Task[None]] = []
    failed: list[str] = []

    async def run(server: _LabServer, name: str) -> None:
        try:
            await server.serve()
        except SystemExit:  # bind or lifespan failure
            failed.append(name)
            stop()

    try:
        for party in parties:
            config = uvicorn.Config(
                party.app, host=host, port=party.port, log_level="warning", lifespan="on"
            )
            server = _LabServer(config)
            servers.append(server)
            tasks.append(asyncio.create_task(run(server, party.name)))
            # uvicorn offers no event for "started"; poll its flag, bounded
            deadline = loop.time() + START_TIMEOUT
            while not server.started and not stopping.is_set() and not tasks[-1].done():
                if loop.time() > deadline:
                    failed.append(party.name)
                    stop()
                    break
                await asyncio.sleep(0.02)
            if failed or stopping.is_set():
                break
        if started is not None and not failed:
            started.set()
        await asyncio.gather(*tasks)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if failed:
        raise StartError(f"could not start: {', '.join(failed)} (is the port in use?)")
