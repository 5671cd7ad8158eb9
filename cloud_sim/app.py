"""The fake Intune cloud as an ASGI app: `create_app(settings)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.clock import Clock, SystemClock
from shared.db import create_engine
from shared.pki import LabPki
from shared.trace import TraceMiddleware, Tracer

from . import identity_auth
from .context import CloudContext
from .routes import admin, connector, devices, groups, identity, lab, validation
from .settings import CloudSettings
from .store import create_tables


def create_app(settings: CloudSettings, *, pki: LabPki, clock: Clock | None = None) -> FastAPI:
    """The cloud. `pki` is the lab PKI (its Connector CA, MDM device CA and challenge keys)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url)
        try:
            await create_tables(engine)
            app.state.token_signer = identity_auth.load_or_create_signing_key(settings.data_dir)
            app.state.cloud = CloudContext(
                settings=settings,
                clock=clock or SystemClock(),
                engine=engine,
                sessions=async_sessionmaker(engine, expire_on_commit=False),
                pki=pki,
            )
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="intune-scep-lab cloud (fake Microsoft Intune)", lifespan=lifespan)
    identity_auth.install_error_handler(app)
    app.add_middleware(TraceMiddleware, tracer=Tracer("cloud", settings.trace_dir))
    app.include_router(identity.router)
    app.include_router(admin.router)
    for version in groups.VERSIONS:
        app.include_router(groups.router, prefix=f"/{version}")
    app.include_router(validation.router)
    app.include_router(connector.router)
    app.include_router(devices.router)
    app.include_router(lab.router)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "party": "cloud"}

    return app
