"""`create_app(settings)`: NDES as a FastAPI app — mscep.dll, mscep_admin, and /health.

The lifespan does what the NDES service does when IIS starts it: fetch the CA chain (retrying an
unreachable CA for `ca_startup_wait_seconds`, then falling back to the chain saved last time),
load or obtain the two RA certificates (see `ra`), and initialise the policy module. State lives
in memory for the life of the process: the one-time password cache and pending transactions are
lost on restart, as NDES loses them on an IIS restart; only RA keys, certificates and the CA
chain are files, in `data_dir`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.clock import Clock, SystemClock
from shared.pki import KeyFileError
from shared.trace import TraceMiddleware, Tracer

from . import admin, lab, transport
from .ca import CaChain
from .ca_http import HttpCertificateAuthority
from .errors import CaError, CaUnavailable, NdesError, PolicyError, RaUnavailable
from .intune_policy import (
    ConnectorReply,
    ConnectorTls,
    ConnectorUnreachable,
    IntuneConnectorPolicy,
)
from .logs import get_logger
from .otp import OneTimePasswordPolicy
from .paths import CaseInsensitivePaths, aliases_for
from .pending import PendingStore
from .policy import NoPasswordPolicy, PolicyModule
from .ra import RaCredentials, cached_chain, in_date, load_or_obtain, ra_roles
from .runtime import NdesRuntime, runtime_of
from .service import ScepService, ServiceConfig
from .settings import NdesSettings
from .templates import TemplateMap

log = get_logger(__name__)


def build_policy(
    settings: NdesSettings,
    clock: Clock,
    connector_transport: httpx.AsyncBaseTransport | None = None,
) -> PolicyModule:
    if settings.policy == "none":
        return NoPasswordPolicy()
    if settings.policy == "intune":
        return build_intune_policy(settings, connector_transport)
    return OneTimePasswordPolicy(
        clock,
        max_cached=settings.password_max,
        validity=timedelta(minutes=settings.password_validity_minutes),
        length=settings.password_length,
        consume_on_failure=settings.password_consumed_on_failure,
    )


class HttpConnectorApi:
    """The Certificate Connector's local API over httpx, presenting the module's client
    certificate; `transport` replaces the network (tests, in-process lab: no TLS files)."""

    def __init__(
        self,
        url: str,
        *,
        tls: ConnectorTls | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        tracer: Tracer | None = None,
    ) -> None:
        if transport is None and tls is None:
            raise PolicyError(
                "policy intune: set NDES_INTUNE_CONNECTOR_CA_PATH, NDES_INTUNE_CLIENT_CERT_PATH "
                "and NDES_INTUNE_CLIENT_KEY_PATH"
            )
        self._url, self._tls, self._transport, self._timeout = url, tls, transport, timeout
        self._tracer = tracer or Tracer("policy-module")
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        verify = self._tls.context() if self._transport is None and self._tls else True
        transport = self._tracer.transport("connector", self._transport, verify=verify)
        self._client = httpx.AsyncClient(
            base_url=self._url, transport=transport, timeout=self._timeout
        )
        log.info("Intune policy module: connector at %s", self._url)

    async def post(self, path: str, body: bytes) -> ConnectorReply:
        if self._client is None:
            raise PolicyError("the Intune policy module is not initialised")
        headers = {"content-type": "application/json"}
        try:
            response = await self._client.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ConnectorUnreachable(f"{self._url}: {type(exc).__name__}: {exc}") from exc
        return ConnectorReply(response.status_code, response.content)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def build_intune_policy(
    settings: NdesSettings, transport: httpx.AsyncBaseTransport | None = None
) -> IntuneConnectorPolicy:
    """With `transport` no TLS files are needed; otherwise all three (checked at start-up)."""
    tls: ConnectorTls | None = None
    ca_file = settings.intune_connector_ca_path
    cert_file = settings.intune_client_cert_path
    key_file = settings.intune_client_key_path
    if transport is None and ca_file and cert_file and key_file:
        tls = ConnectorTls(ca_file, cert_file, key_file)
    api = HttpConnectorApi(
        settings.intune_connector_url,
        tls=tls,
        transport=transport,
        timeout=settings.intune_timeout_seconds,
        tracer=Tracer("policy-module", settings.trace_dir),
    )
    return IntuneConnectorPolicy(api)


def load_next_ca(path: Path | None) -> tuple[x509.Certificate, ...]:
    if path is None:
        return ()
    try:
        data = path.read_bytes()
        if b"-----BEGIN" in data:
            return tuple(x509.load_pem_x509_certificates(data))
        return (x509.load_der_x509_certificate(data),)
    except (OSError, ValueError) as exc:
        raise NdesError(f"{path}: cannot read the rollover CA certificate ({exc})") from exc


async def _ca_chain(settings: NdesSettings, ca: HttpCertificateAuthority) -> CaChain:
    deadline = time.monotonic() + settings.ca_startup_wait_seconds
    while True:
        try:
            return await ca.fetch_chain()
        except CaUnavailable as exc:
            if time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
            cached = cached_chain(settings.data_dir)
            if cached is None:
                raise RaUnavailable(
                    f"cannot get the CA certificates from {settings.ca_url} ({exc}) and none "
                    f"are saved in {settings.data_dir}"
                ) from exc
            log.warning("the CA is unreachable (%s): using the CA chain saved last time", exc)
            return cached
        except CaError as exc:
            raise RaUnavailable(f"cannot get the CA certificates: {exc}") from exc


async def start_ra(
    settings: NdesSettings, ca: HttpCertificateAuthority, clock: Clock
) -> RaCredentials:
    chain = await _ca_chain(settings, ca)
    try:
        return await load_or_obtain(
            settings.data_dir,
            ca=ca,
            chain=chain,
            roles=ra_roles(settings.ra_signing_template, settings.ra_encryption_template),
            subject=x509.Name.from_rfc4514_string(settings.ra_subject),
            now=clock.now(),
            key_size=settings.ra_key_size,
        )
    except CaError as exc:
        raise RaUnavailable(f"cannot obtain the RA certificates: {exc}") from exc
    except KeyFileError as exc:
        raise RaUnavailable(f"RA key or certificate file: {exc}") from exc


def create_app(
    settings: NdesSettings,
    *,
    clock: Clock | None = None,
    ca_transport: httpx.AsyncBaseTransport | None = None,
    policy: PolicyModule | None = None,
    connector_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """NDES. `ca_transport` replaces the network to the CA (tests, in-process lab), and
    `connector_transport` the network to the Intune connector; `policy` replaces the module the
    settings would build."""
    the_clock: Clock = clock or SystemClock()
    next_ca = load_next_ca(settings.next_ca_cert_path)
    tracer = Tracer(settings.trace_name, settings.trace_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ca = HttpCertificateAuthority(
            settings.ca_url,
            settings.ca_admin_token,
            transport=tracer.transport("ca", ca_transport),
            timeout=settings.ca_timeout_seconds,
        )
        try:
            ra = await start_ra(settings, ca, the_clock)
            module = (
                policy
                if policy is not None
                else build_policy(settings, the_clock, connector_transport)
            )
            await module.initialize()
            try:
                service = ScepService(
                    ra=ra,
                    ca=ca,
                    policy=module,
                    pending=PendingStore(),
                    clock=the_clock,
                    config=ServiceConfig(
                        templates=TemplateMap(
                            signature=settings.signature_template,
                            encryption=settings.encryption_template,
                            general_purpose=settings.general_purpose_template,
                        ),
                        reply_ciphers=tuple(settings.reply_ciphers),
                        failure_text=settings.failure_text,
                    ),
                    next_ca=next_ca,
                )
                app.state.ndes = NdesRuntime(settings, service, ca, the_clock)
                log.info("NDES started: policy %s, CA %s", settings.policy, settings.ca_url)
                yield
            finally:
                app.state.ndes = None
                await module.uninitialize()
        finally:
            await ca.aclose()

    app = FastAPI(
        title="NDES (intune-scep-lab)",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.clock = the_clock
    app.include_router(transport.router)
    app.include_router(admin.router)
    app.add_api_route("/health", health, methods=["GET"], include_in_schema=False)
    if settings.lab_api:
        lab.install(app, settings)
    paths = [
        transport.MSCEP_PATH,
        transport.PKICLIENT_PATH,
        transport.ADMIN_PATH,
        "/certsrv/mscep_admin/mscep.dll",
    ]
    app.add_middleware(TraceMiddleware, tracer=tracer, default_peer="device")
    app.add_middleware(CaseInsensitivePaths, aliases=aliases_for(paths))
    return app


def _cert_health(cert: x509.Certificate, clock: Clock) -> dict[str, object]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "serialNumber": format(cert.serial_number, "X"),
        "notAfter": cert.not_valid_after_utc.isoformat(),
        "valid": in_date(cert, clock.now()),
    }


async def health(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    ra = runtime.service.ra
    reachable = await runtime.ca.reachable()
    ra_ok = not ra.expired(runtime.clock.now())
    return JSONResponse(
        {
            "status": "ok" if ra_ok and reachable else "degraded",
            "policy": runtime.settings.policy,
            "intuneModuleInstalled": runtime.settings.intune_module_installed,
            "raSigning": _cert_health(ra.sign_cert, runtime.clock),
            "raEncryption": _cert_health(ra.encrypt_cert, runtime.clock),
            "issuingCa": _cert_health(ra.chain.issuing, runtime.clock),
            "ca": {"url": runtime.settings.ca_url, "reachable": reachable},
            "pendingTransactions": runtime.service.pending_count,
        }
    )
