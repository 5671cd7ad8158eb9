"""The connector's local API for NDES's Intune policy module: `POST VERIFY_PATH`,
`POST NOTIFY_PATH` and `GET /health`. The module authenticates with its client certificate,
whose SHA-1 thumbprint must be in `policy_module_thumbprints` (the real connector's
`NDESCertThumbprint`); an empty list refuses every caller.

The lifespan checks that the identity key matches the identity certificate (a `KeyFileError`
naming the files stops the start), creates the outbox table and runs the background agents until
shutdown: the outbox worker, the heartbeat, the identity renewal and — when `ca_url` is set — the
revocation agent."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from fastapi import Depends, FastAPI, HTTPException, Request

from shared import trace
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
from shared.tls import client_certificate, client_context
from shared.trace import TraceMiddleware, Tracer

from .ca import HttpCaRevoker
from .cloud import CloudClient, OutboxSender
from .delivery import OutboxSaveFailed, OutboxWorker
from .heartbeat import HeartbeatAgent
from .identity import check_identity
from .lab import keep_agents, lab_router
from .renewal import IdentityRenewer
from .revocation import RevocationAgent
from .service import ConnectorService, IssuedCertificateInvalid
from .settings import ConnectorSettings
from .store import SqlOutboxStore, create_engine

REVOCATION_DISABLED = {"enabled": False, "lastPass": None, "lastError": None, "pendingUploads": 0}


@dataclass(frozen=True)
class ConnectorContext:
    settings: ConnectorSettings
    service: ConnectorService
    store: SqlOutboxStore
    worker: OutboxWorker
    cloud: CloudClient
    heartbeat: HeartbeatAgent
    renewer: IdentityRenewer
    revocation: RevocationAgent | None  # None: no CA configured


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


def _revoker(
    settings: ConnectorSettings, transport: httpx.AsyncBaseTransport | None
) -> HttpCaRevoker | None:
    if settings.ca_url is None or settings.ca_admin_token is None:
        return None
    verify: ssl.SSLContext | bool = True
    if settings.ca_url.startswith("https:") and transport is None:
        verify = client_context(settings.cloud_ca_path)  # the lab's TLS root
    return HttpCaRevoker(
        settings.ca_url,
        settings.ca_admin_token,
        transport,
        timeout=settings.ca_timeout_seconds,
        verify=verify,
        tracer=Tracer("connector", settings.trace_dir),
    )


def create_app(
    settings: ConnectorSettings,
    *,
    cloud_transport: httpx.AsyncBaseTransport | None = None,
    ca_transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The connector; `cloud_transport` and `ca_transport` replace the network (tests)."""
    clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_identity(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url)
        store = SqlOutboxStore(engine)
        await store.create_tables()
        cloud = CloudClient.from_settings(settings, transport=cloud_transport)
        worker = OutboxWorker(store, OutboxSender(cloud), clock)
        heartbeat = HeartbeatAgent(cloud, clock, settings.connector_version)
        renewer = IdentityRenewer(settings, cloud, clock)
        revoker = _revoker(settings, ca_transport)
        revocation = (
            None
            if revoker is None
            else RevocationAgent(cloud, revoker, clock, batch=settings.revocation_batch)
        )
        app.state.connector = ConnectorContext(
            settings,
            ConnectorService(cloud, worker, clock),
            store,
            worker,
            cloud,
            heartbeat,
            renewer,
            revocation,
        )
        stop = asyncio.Event()
        loops = [
            worker.run_forever(stop, settings.outbox_poll_seconds),
            heartbeat.run_forever(stop, settings.heartbeat_seconds),
            renewer.run_forever(stop, settings.identity_check_seconds),
        ]
        if revocation is not None:
            loops.append(revocation.run_forever(stop, settings.revocation_poll_seconds))
        tasks = [asyncio.create_task(loop) for loop in loops]
        keep_agents(app, tasks)
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            if revoker is not None:
                await revoker.aclose()
            await cloud.aclose()
            await engine.dispose()

    app = FastAPI(title="Certificate Connector (lab)", lifespan=lifespan)
    app.state.clock = clock
    if settings.lab_api:
        app.include_router(lab_router(require_policy_module))
    app.add_middleware(
        TraceMiddleware,
        tracer=Tracer("connector", settings.trace_dir),
        default_peer="policy-module",
    )

    @app.post(VERIFY_PATH, response_model=VerifyResult)
    async def verify(body: VerifyRequest, _: PolicyModule, context: Context) -> VerifyResult:
        trace.annotate(transaction_id=body.transaction_id, template=body.template)
        result = await context.service.verify(body)
        trace.annotate(
            outcome=None if result.verified else "refused",
            intune_code=result.code,
            reason=None
            if result.verified
            else {
                "intune_code": result.code,
                "hresult": result.hresult,
                "detail": result.description,
            },
        )
        return result

    @app.post(NOTIFY_PATH, response_model=NotifyResult)
    async def notify(body: NotifyRequest, _: PolicyModule, context: Context) -> NotifyResult:
        trace.annotate(
            transaction_id=body.transaction_id, disposition=body.disposition, hresult=body.hresult
        )
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
            pem: str | None = identity.public_bytes(serialization.Encoding.PEM).decode("ascii")
        except KeyFileError:
            expiry = pem = None
        revocation = context.revocation
        return {
            "outboxPending": await context.store.pending_count(),
            "identityNotAfter": expiry,
            # the certificate is public: the lab console draws it on its trust map
            "identity": {**context.renewer.health(), "notAfter": expiry, "certificate": pem},
            "heartbeat": context.heartbeat.health(),
            "revocation": REVOCATION_DISABLED if revocation is None else revocation.health(),
        }

    return app
