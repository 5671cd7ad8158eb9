"""Clients of the parties' lab-only APIs (`/lab/*`), each with the credential the lab holds in
its data folder and lab.json: the cloud's as the demo tenant's administrator
(`challenge.admin_session`), the CA's with its admin token, NDES's with its admin page's
credentials, the connector's with the NDES policy module's client certificate (mutual TLS, the
only client the connector's local API admits)."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from shared.pki import LabCert
from shared.trace import PARTY_HEADER

from .home import LabState

TIMEOUT = 30.0
CA_PAGE = 1000
"""The CA lists at most this many requests a call."""


@contextlib.contextmanager
def ca_client(state: LabState, party: str = "admin") -> Iterator[httpx.Client]:
    """`party`: who the calls are in the trace (the console's reads are "console", unrecorded)."""
    headers = {"authorization": f"Bearer {state.ca_admin_token}", PARTY_HEADER: party}
    with httpx.Client(base_url=state.url("ca"), headers=headers, timeout=TIMEOUT) as client:
        yield client


@contextlib.contextmanager
def ndes_client(
    state: LabState, party: str = "ndes", caller: str = "admin"
) -> Iterator[httpx.Client]:
    """`party`: "ndes" (Intune's) or "ndes_general" (the one-time-password NDES); `caller`: who
    the calls are in the trace."""
    auth = (state.ndes_admin_user, state.ndes_admin_password)
    headers = {PARTY_HEADER: caller}
    with httpx.Client(
        base_url=state.url(party), auth=auth, headers=headers, timeout=TIMEOUT
    ) as client:
        yield client


def policy_module_context(data: Path) -> ssl.SSLContext:
    """Trust the enterprise root (the connector serves with the NDES host's certificate) and
    present the policy module's client certificate, as NDES's Intune module does."""
    pki = data / "pki"
    context = ssl.create_default_context(cafile=str(pki / f"{LabCert.ROOT_CA.value}.pem"))
    label = LabCert.NDES_POLICY_MODULE.value
    context.load_cert_chain(str(pki / f"{label}-chain.pem"), str(pki / f"{label}.key.pem"))
    return context


@contextlib.contextmanager
def connector_client(data: Path, state: LabState, party: str = "admin") -> Iterator[httpx.Client]:
    verify = policy_module_context(data)
    headers = {PARTY_HEADER: party}
    with httpx.Client(
        base_url=state.url("connector"), verify=verify, headers=headers, timeout=TIMEOUT
    ) as client:
        yield client


def ca_requests(state: LabState, offset: int = 0, party: str = "admin") -> list[dict[str, Any]]:
    """The CA database's requests from number `offset` on (oldest first), every page."""
    found: list[dict[str, Any]] = []
    with ca_client(state, party) as client:
        while True:
            answer = client.get(
                "/ca/requests", params={"limit": str(CA_PAGE), "offset": str(offset + len(found))}
            )
            answer.raise_for_status()
            page: list[dict[str, Any]] = answer.json()
            found.extend(page)
            if len(page) < CA_PAGE:
                return found


def connector_outbox(data: Path, state: LabState, after: int = 0) -> dict[str, Any]:
    """`GET /lab/outbox`: the instance answering, and the outbox's entries after id `after`."""
    with connector_client(data, state) as client:
        answer = client.get("/lab/outbox", params={"after": str(after)})
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body


def crash_connector(data: Path, state: LabState, restart_after: float = 0.0) -> dict[str, Any]:
    """`POST /lab/crash`: the connector dies as with kill -9 (`scep-lab up` restarts it after
    `restart_after` seconds). Answers which instance died."""
    with connector_client(data, state) as client:
        answer = client.post("/lab/crash", json={"restartAfterSeconds": restart_after})
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body


CLOCK_PARTIES = ("ca", "ndes", "ndes_general", "connector")
"""The parties besides the cloud whose clock `scep-lab clock advance` moves."""


def sync_clocks(data: Path, state: LabState, offset_seconds: float) -> dict[str, str]:
    """Give every party the cloud's clock offset (`PUT /lab/clock`; see shared.lab_clock): in
    `scep-lab up` they share one clock already, in compose each catches up. What each answered."""
    body = {"offsetSeconds": offset_seconds}
    clients = {
        "ca": lambda: ca_client(state),
        "ndes": lambda: ndes_client(state, "ndes"),
        "ndes_general": lambda: ndes_client(state, "ndes_general"),
        "connector": lambda: connector_client(data, state),
    }
    said: dict[str, str] = {}
    for party in CLOCK_PARTIES:
        try:
            with clients[party]() as client:
                answer = client.put("/lab/clock", json=body)
        except (httpx.HTTPError, OSError, KeyError, ValueError) as exc:
            said[party] = f"not reached ({type(exc).__name__})"
            continue
        if answer.status_code == 200:
            said[party] = f"{answer.json()['offsetSeconds'] / 60:.1f} min ahead"
        else:
            said[party] = f"HTTP {answer.status_code}: not moved"
    return said
