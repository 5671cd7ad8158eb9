"""How the connector's local API is served: HTTPS with the NDES host's certificate when
`tls_cert_path` and `tls_key_path` are set, asking for a client certificate verified against
`policy_module_ca_path` (the policy module's leaf then reaches the app in the ASGI TLS extension,
where the thumbprint allow-list is checked); plain HTTP otherwise, which no policy module can
pass (the allow-list needs a verified client certificate)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from shared.tls import KEEP_ALIVE_SECONDS, server_context, uvicorn_tls_config

from .settings import ConnectorSettings


def uvicorn_config(
    app: FastAPI, settings: ConnectorSettings, *, log_level: str = "info"
) -> uvicorn.Config:
    if settings.tls_cert_path is None or settings.tls_key_path is None:
        return uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    context = server_context(
        settings.tls_cert_path, settings.tls_key_path, client_ca_file=settings.policy_module_ca_path
    )
    return uvicorn_tls_config(
        app, host=settings.host, port=settings.port, context=context, log_level=log_level
    )
