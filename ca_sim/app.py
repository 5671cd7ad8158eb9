"""The CA as an ASGI app: `create_app(settings)`.

The CA's key files are loaded (and checked) when the app is made, so that a bad PKI folder stops
the process with a clear message before it serves anything; the database engine and tables are
made in the lifespan, and the lab PKI's NDES RA certificates are adopted into the CA database
(so that they can be revoked like any certificate the CA issued).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shared.clock import Clock, SystemClock
from shared.pki import new_serial
from shared.trace import TraceMiddleware, Tracer

from .authority import Authority, lab_issued_certificates, load_authority
from .errors import BadRequestStatus, MalformedInput, NotFound, Unauthenticated
from .faults import CaFaultBoard
from .publisher import CrlPublisher
from .routes import ca, lab, pki
from .routes.limits import BodyLimit
from .service import CaService
from .settings import CaSettings
from .store import SqlCaStore, create_engine, create_tables
from .templates import DEFAULT_TEMPLATES, index_templates

logger = logging.getLogger(__name__)
LAB_BUILD = "lab PKI build"


def create_app(
    settings: CaSettings,
    *,
    clock: Clock | None = None,
    authority: Authority | None = None,
    serials: Callable[[], int] = new_serial,
) -> FastAPI:
    """The CA. Raises `CaConfigError` if the PKI folder does not hold a usable root and issuing
    CA. `serials` draws certificate serial numbers (tests force clashes with it)."""
    the_clock = clock or SystemClock()
    pki_dir = settings.effective_pki_dir
    the_authority = authority or load_authority(pki_dir, settings.public_base_url)
    templates = index_templates(DEFAULT_TEMPLATES)
    faults = CaFaultBoard() if settings.lab_api else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.effective_database_url)
        try:
            await create_tables(engine)
            store = SqlCaStore(engine)
            crls = CrlPublisher(
                store,
                the_authority,
                the_clock,
                crl_validity=settings.crl_validity,
                root_crl_validity=settings.root_crl_validity,
            )
            service = CaService(
                store, the_authority, the_clock, templates, crls, serials=serials, faults=faults
            )
            for cert, template in lab_issued_certificates(pki_dir, the_authority):
                if await service.adopt(cert, template, origin=LAB_BUILD):
                    logger.info("adopted %s (%s)", cert.subject.rfc4514_string(), template)
            app.state.service = service
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="ca_sim",
        summary="The lab's enterprise PKI (AD CS-like): offline root and issuing CA",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = the_clock
    app.add_middleware(BodyLimit)
    app.add_middleware(TraceMiddleware, tracer=Tracer("ca", settings.trace_dir))
    app.include_router(ca.router)
    app.include_router(pki.router)
    if faults is not None:
        app.state.faults = faults
        app.add_middleware(lab.CaDownFault, board=faults)
        app.include_router(lab.router)
    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    def reply(code: int, detail: str, **extra: object) -> JSONResponse:
        return JSONResponse({"detail": detail, **extra}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', '?')}"
            for error in exc.errors()
        )
        return reply(status.HTTP_400_BAD_REQUEST, f"malformed request: {problems}")

    @app.exception_handler(MalformedInput)
    async def _malformed(_: Request, exc: MalformedInput) -> JSONResponse:
        return reply(status.HTTP_400_BAD_REQUEST, str(exc))

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        response = reply(status.HTTP_401_UNAUTHORIZED, str(exc))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return reply(status.HTTP_404_NOT_FOUND, str(exc))

    @app.exception_handler(BadRequestStatus)
    async def _bad_status(_: Request, exc: BadRequestStatus) -> JSONResponse:
        return reply(status.HTTP_409_CONFLICT, str(exc), hresult=int(exc.hresult))
