"""The connector's local API for NDES's Intune policy module: `POST VERIFY_PATH`,
`POST NOTIFY_PATH` and `GET /health`. The module authenticates with its client certificate,
whose SHA-1 thumbprint must be in `policy_module_thumbprints` (the real connector's
`NDESCertThumbprint`); an empty list refuses every caller. The lifespan creates the outbox table
and runs the outbox worker until shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from fastapi import Depends, FastAPI, HTTPException, Request

from shared.api.connector import (
    NOTIFY_PATH,
    VERIFY_PATH,
    NotifyRequest,
    NotifyResult,
    VerifyRequest,
    VerifyResult,
)
from shared.clock import Clock, SystemClock
from shared.pki import load_certificate_file
from shared.pki.errors import KeyFileError
from shared.tls import client_certificate

from .cloud import CloudClient, OutboxSender
from .delivery import OutboxSaveFailed, OutboxWorker
from .service import ConnectorService, IssuedCertificateInvalid
from .settings import ConnectorSettings
from .store import SqlOutboxStore, create_engine


@dataclass(frozen=True)
class ConnectorContext:
    settings: ConnectorSettings
    service: ConnectorService
    store: SqlOutboxStore
    worker: OutboxWorker
    cloud: CloudClient


def _context(request: Request) -> ConnectorContext:
    context: ConnectorContext = request.app.state.connector
    return context


Context = Annotated[ConnectorContext, Depends(_context)]


def require_policy_module(request: Request, context: Context) -> x509.Certificate:
    """The NDES policy module's client certificate, allowed by thumbprint, or 401/403."""
    allowed = context.settings.allowed_thumbprints
    if not allowed:
        raise HTTPException(
            403, "no policy module is allowed: set CONNECTOR_POLICY_MODULE_THUMBPRINTS"
        )
    cert = client_certificate(request.scope)
    if cert is None:
        raise HTTPException(401, "the NDES policy module's client certificate is required")
    if cert.fingerprint(hashes.SHA1()).hex().upper() not in allowed:
        raise HTTPException(403, "this client certificate is not an allowed policy module")
    return cert


PolicyModule = Annotated[x509.Certificate, Depends(require_policy_module)]


def create_app(
    settings: ConnectorSettings,
    *,
    cloud_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url)
        store = SqlOutboxStore(engine)
        await store.create_tables()
        cloud = CloudClient.from_settings(settings, transport=cloud_transport)
        worker = OutboxWorker(store, OutboxSender(cloud), clock)
        app.state.connector = ConnectorContext(
            settings, ConnectorService(cloud, worker, clock), store, worker, cloud
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run_forever(stop, settings.outbox_poll_seconds))
        try:
            yield
        finally:
            stop.set()
            await task
            await cloud.aclose()
            await engine.dispose()

    app = FastAPI(title="Certificate Connector (lab)", lifespan=lifespan)

    @app.post(VERIFY_PATH, response_model=VerifyResult)
    async def verify(body: VerifyRequest, _: PolicyModule, context: Context) -> VerifyResult:
        return await context.service.verify(body)

    @app.post(NOTIFY_PATH, response_model=NotifyResult)
    async def notify(body: NotifyRequest, _: PolicyModule, context: Context) -> NotifyResult:
        try:
            return await context.service.notify(body)
        except IssuedCertificateInvalid as exc:
            raise HTTPException(400, str(exc)) from exc
        except OutboxSaveFailed as exc:
            raise HTTPException(503, "the report could not be kept; it is not queued") from exc

    @app.get("/health")
    async def health(context: Context) -> dict[str, object]:
        try:
            identity = load_certificate_file(context.settings.effective_identity_cert_path)
            expiry: str | None = identity.not_valid_after_utc.isoformat()
        except KeyFileError:
            expiry = None
        return {
            "outboxPending": await context.store.pending_count(),
            "identityNotAfter": expiry,
        }

    return app
