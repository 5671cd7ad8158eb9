"""What the running NDES app holds between requests (set by the lifespan, read by the routes)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from shared.clock import Clock

from .ca_http import HttpCertificateAuthority
from .service import ScepService
from .settings import NdesSettings


@dataclass(frozen=True)
class NdesRuntime:
    settings: NdesSettings
    service: ScepService
    ca: HttpCertificateAuthority
    clock: Clock


def runtime_of(request: Request) -> NdesRuntime:
    runtime = getattr(request.app.state, "ndes", None)
    if not isinstance(runtime, NdesRuntime):
        raise RuntimeError("NDES is not started (lifespan did not run)")
    return runtime
