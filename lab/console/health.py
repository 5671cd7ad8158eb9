"""Each party's health and the certificates parties publish, as the console's pages show them.
The console's calls here are sent as the unrecorded observer (see shared.trace.OBSERVER)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from shared import scep
from shared.trace import OBSERVER, PARTY_HEADER

from ..home import LabState, tls_root_path
from ..lab_api import policy_module_context
from .trust import ra_pair

HEALTH_TIMEOUT = 2.0


@functools.cache
def _contexts(data: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Trust for the cloud's HTTPS, and the policy module's client certificate for the
    connector's: read once (the lab PKI does not change while the lab runs), not on every
    health check of every page."""
    return ssl.create_default_context(cafile=str(tls_root_path(data))), policy_module_context(data)


async def party_health(data: Path, state: LabState) -> dict[str, dict[str, Any]]:
    """Each server of the lab: does it answer /health, and a word on what it said."""
    cloud_tls, policy_module = _contexts(data)
    checks: dict[str, tuple[str, ssl.SSLContext | bool]] = {
        "cloud": (state.url("cloud"), cloud_tls),
        "ca": (state.url("ca"), True),
        "ndes": (state.url("ndes"), True),
    }
    if state.policy == "intune":
        checks["connector"] = (state.url("connector"), policy_module)
        checks["ndes-general"] = (state.url("ndes_general"), True)

    async def one(url: str, verify: ssl.SSLContext | bool) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(verify=verify, timeout=HEALTH_TIMEOUT) as client:
                answer = await client.get(f"{url}/health", headers={PARTY_HEADER: OBSERVER})
        except (httpx.HTTPError, OSError) as exc:
            return {"up": False, "url": url, "detail": f"not answering ({type(exc).__name__})"}
        if answer.status_code != 200:
            return {"up": False, "url": url, "detail": f"HTTP {answer.status_code}"}
        try:
            body = answer.json()
        except ValueError:
            body = None
        return {"up": True, "url": url, "detail": _health_word(body), "body": body}

    names = list(checks)
    said = await asyncio.gather(*(one(*checks[name]) for name in names))
    return dict(zip(names, said, strict=True))


def without_body(said: dict[str, Any]) -> dict[str, Any]:
    """A party's health as the page shows it (not the whole body it answered)."""
    return {key: value for key, value in said.items() if key != "body"}


async def published_certificates(
    state: LabState, health: dict[str, dict[str, Any]]
) -> dict[str, x509.Certificate]:
    """The certificates parties publish: NDES's RA pair (GetCACert, as any SCEP client gets it)
    and the connector's identity (its health, to the policy module's certificate)."""
    found: dict[str, x509.Certificate] = {}
    scep_url = state.scep_url
    try:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT) as client:
            answer = await client.get(
                scep_url, params={"operation": "GetCACert"}, headers={PARTY_HEADER: OBSERVER}
            )
        if answer.status_code == 200:
            certificates, _ = scep.parse_certs_only(answer.content)
            found |= ra_pair(certificates)
    except (httpx.HTTPError, OSError, scep.ScepError, ValueError):
        pass  # NDES down: the map shows what it can
    identity = (health.get("connector", {}).get("body") or {}).get("identity") or {}
    if isinstance(identity.get("certificate"), str):
        with contextlib.suppress(ValueError):
            found["connector-identity"] = x509.load_pem_x509_certificate(
                identity["certificate"].encode("ascii")
            )
    return found


def _health_word(body: Any) -> str:
    if isinstance(body, dict) and "outboxPending" in body:
        return f"{body['outboxPending']} report(s) waiting in its outbox"
    if isinstance(body, dict) and isinstance(body.get("raSigning"), dict):
        return f"RA certificates until {str(body['raSigning'].get('notAfter', '?'))[:10]}"
    return "answers"
