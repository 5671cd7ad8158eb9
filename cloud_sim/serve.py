"""How the cloud is served: HTTPS with the lab TLS server certificate, asking for (and verifying
against the Intune Connector CA) a client certificate, whose verified leaf reaches the app as the
ASGI TLS extension. The connector API refuses requests without one; other routes ignore it."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from shared.pki import LabCert, LabPki
from shared.tls import TlsScopeH11Protocol, server_context

from .settings import CloudSettings


def uvicorn_config(app: FastAPI, settings: CloudSettings, pki: LabPki) -> uvicorn.Config:
    if not settings.tls:
        return uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning")
    context = server_context(
        pki.path(LabCert.TLS_SERVER),
        pki.key_path(LabCert.TLS_SERVER),
        client_ca_file=pki.path(LabCert.INTUNE_CONNECTOR_CA),
    )
    factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]
    factory = lambda _config, _default: context  # noqa: E731
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        http=TlsScopeH11Protocol,
        ssl_context_factory=factory,
    )
