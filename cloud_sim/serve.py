"""How the cloud is served: HTTPS with the lab TLS server certificate, asking for (and verifying
against the Intune Connector CA and the MDM Device CA) a client certificate, whose verified leaf
reaches the app as the ASGI TLS extension. The connector and device APIs refuse requests without
one (and check which CA issued it); other routes ignore it."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from shared.pki import LabCert, LabPki
from shared.tls import KEEP_ALIVE_SECONDS, server_context, uvicorn_tls_config

from .settings import CloudSettings


def uvicorn_config(app: FastAPI, settings: CloudSettings, pki: LabPki) -> uvicorn.Config:
    if not settings.tls:
        return uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    # clients may present a connector identity or an MDM device identity: trust both CAs
    client_cas = settings.data_dir / "client-cas.pem"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    client_cas.write_bytes(
        pki.path(LabCert.INTUNE_CONNECTOR_CA).read_bytes()
        + pki.path(LabCert.INTUNE_MDM_DEVICE_CA).read_bytes()
    )
    context = server_context(
        pki.path(LabCert.TLS_SERVER), pki.key_path(LabCert.TLS_SERVER), client_ca_file=client_cas
    )
    return uvicorn_tls_config(
        app, host=settings.host, port=settings.port, context=context, log_level="warning"
    )
