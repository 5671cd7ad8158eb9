"""`scep-lab up`: every party, in one process, on loopback ports.

Each party is an ordinary app from its own `create_app(settings)`, served with the uvicorn
configuration it would have alone (the cloud's HTTPS from `cloud_sim.serve`); this module only
decides the settings (all state under one data folder) and serves the apps side by side. The
cloud seeds the demo tenant as the last step of its start-up, so once it answers, the tenant is
there and its credentials are in lab.json (and another tenant's, Fabrikam Lab's). Serving, the
signals and the connector's crash-and-restart are `serving`'s.

With `--policy intune`, a second NDES runs beside Intune's on its own port, with NDES's own
one-time passwords (the general SCEP workflow), so every scenario runs against one `up`. Every
party serves its lab-only API (`/lab/*`: faults, the connector's crash), behind its own
credentials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ca_sim.app import create_app as create_ca
from ca_sim.settings import CaSettings
from cloud_sim.app import create_app as create_cloud
from cloud_sim.context import CloudContext
from cloud_sim.serve import uvicorn_config as cloud_uvicorn_config
from cloud_sim.settings import CloudSettings
from connector.app import create_app as create_connector
from connector.serve import uvicorn_config as connector_uvicorn_config
from ndes_plugin.app import create_app as create_ndes
from ndes_plugin.settings import NdesSettings
from shared.clock import OffsetClock
from shared.pki import LabCert, LabPki, build_lab_pki, default_lab_spec
from shared.tls import KEEP_ALIVE_SECONDS, server_context, uvicorn_tls_config

from .console.app import create_app as create_console
from .home import LabState, TenantState, save_state, trace_path
from .intune_wiring import (
    chain_file,
    connector_settings,
    policy_module_settings,
    sign_in_on_start,
)
from .seed import DemoTenant, seed_demo_tenant, seed_other_tenant
from .serving import Party, StartError, serve

__all__ = ["Party", "StartError", "build_pki", "parties", "serve"]

log = logging.getLogger(__name__)

PKI_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""Fixed, so that the lab PKI is the same bytes for the same seed."""


def build_pki(data: Path, state: LabState) -> LabPki:
    """The lab PKI in <data>/pki, made on the first run and reused afterwards."""
    spec = default_lab_spec(bytes.fromhex(state.seed), PKI_NOT_BEFORE)
    return build_lab_pki(spec, data / "pki")


def cloud_settings(data: Path, state: LabState) -> CloudSettings:
    return CloudSettings(
        host=state.host,
        port=state.ports.cloud,
        data_dir=data / "cloud",
        pki_dir=data / "pki",
        public_base_url=state.url("cloud"),
        tls=True,
        trace_dir=trace_path(data),
    )


def ca_settings(data: Path, state: LabState) -> CaSettings:
    return CaSettings(
        host=state.host,
        port=state.ports.ca,
        data_dir=data / "ca",
        pki_dir=data / "pki",
        public_base_url=state.url("ca"),
        admin_token=SecretStr(state.ca_admin_token),
        trace_dir=trace_path(data),
        lab_api=True,
    )


def ndes_settings(data: Path, state: LabState, pki: LabPki) -> NdesSettings:
    intune = policy_module_settings(data, state, pki) if state.policy == "intune" else {}
    return NdesSettings(
        host=state.host,
        port=state.ports.ndes,
        data_dir=data / "ndes",
        ca_url=state.url("ca"),
        ca_admin_token=SecretStr(state.ca_admin_token),
        admin_user=SecretStr(state.ndes_admin_user),
        admin_password=SecretStr(state.ndes_admin_password),
        policy=state.policy,
        # the MSCEP registry values of the lab: a device template for general-purpose (and
        # encryption-only) requests, a user template with secure e-mail for signature-only ones
        general_purpose_template="IntuneDeviceCert",
        encryption_template="IntuneDeviceCert",
        signature_template="IntuneUserCert",
        # above the cloud's and the connector's own waits (SQLite's busy timeout is 30 s): a
        # slow verdict under load is still a verdict, not a timeout
        intune_timeout_seconds=45.0,
        trace_dir=trace_path(data),
        lab_api=True,
        **intune,
    )


def general_ndes_settings(data: Path, state: LabState, pki: LabPki) -> NdesSettings:
    """The second NDES of `up --policy intune`: the same CA and template values, NDES's own
    one-time passwords (the admin page with the lab's NDES credentials), its own RA keys."""
    otp = ndes_settings(data, dataclasses.replace(state, policy="otp"), pki)
    return otp.model_copy(
        update={
            "port": state.ports.ndes_general,
            "data_dir": data / "ndes-general",
            "trace_name": "ndes-general",
        }
    )


def parties(data: Path, state: LabState, clock: OffsetClock | None = None) -> list[Party]:
    """In start order: a party's dependencies come first. The connector (with policy intune
    only) signs in to the cloud on its first start, and NDES's policy module calls it."""
    pki = build_pki(data, state)
    # one virtual clock for every party of this process: `scep-lab clock advance` moves it
    # through the cloud's lab API (/lab/clock)
    clock = clock or OffsetClock()
    cloud = cloud_settings(data, state)
    cloud_app = create_cloud(cloud, pki=pki, clock=clock)
    seed_on_start(cloud_app, data, state, pki)
    cloud_config = cloud_uvicorn_config(cloud_app, cloud, pki)
    cloud_config.lifespan = "on"  # a failed start-up (or seed) stops the lab
    ca_app = create_ca(ca_settings(data, state), clock=clock)
    ndes = ndes_settings(data, state, pki)
    intune: list[Party] = []
    general: list[Party] = []
    if state.policy == "intune":
        connector = connector_settings(data, state, pki).model_copy(update={"lab_api": True})

        def build_connector() -> uvicorn.Config:
            """A connector app from its data folder (again after a lab crash)."""
            app = create_connector(connector, clock=clock)
            sign_in_on_start(app, connector, state)
            config = connector_uvicorn_config(app, connector, log_level="warning")
            config.lifespan = "on"
            return config

        url = state.url("connector")
        intune.append(Party("connector", url, build_connector(), rebuild=build_connector))
        otp = general_ndes_settings(data, state, pki)
        general.append(
            Party(
                "ndes-general",
                state.url("ndes_general"),
                _plain_config(
                    create_ndes(otp, clock=clock),
                    state.host,
                    otp.port,
                    http="h11",
                    h11_max_incomplete_event_size=otp.max_request_head,
                ),
            )
        )
    ndes_app = create_ndes(ndes, clock=clock)
    # IIS on the NDES host binds HTTP and HTTPS: one app, two servers; the HTTPS one starts
    # second and runs no lifespan of its own (the HTTP server's made the app's state)
    ndes_https = uvicorn_tls_config(
        ndes_app,
        host=state.host,
        port=state.ports.ndes_https,
        context=server_context(
            chain_file(data, pki, LabCert.NDES_HOST_TLS), pki.key_path(LabCert.NDES_HOST_TLS)
        ),
        log_level="warning",
    )
    ndes_https.lifespan = "off"
    ndes_https.h11_max_incomplete_event_size = ndes.max_request_head
    return [
        Party("cloud", state.url("cloud"), cloud_config),
        Party("ca", state.url("ca"), _plain_config(ca_app, state.host, state.ports.ca)),
        *intune,
        Party(
            "ndes",
            state.url("ndes"),
            # h11 with a larger request-head limit, so long GET PKIOperation URLs get in
            _plain_config(
                ndes_app,
                state.host,
                state.ports.ndes,
                http="h11",
                h11_max_incomplete_event_size=ndes.max_request_head,
            ),
        ),
        Party("ndes-https", state.url("ndes_https"), ndes_https),
        *general,
        Party(
            "console", state.url("console"), console_config(data, state.host, state.ports.console)
        ),
    ]


def console_config(data: Path, host: str, port: int) -> uvicorn.Config:
    """The lab console (lab.console): a page's live stream stays open, so the server gives open
    connections two seconds when it stops rather than waiting for the browser to go."""
    config = _plain_config(create_console(data), host, port)
    config.timeout_graceful_shutdown = 2
    return config


def _plain_config(app: FastAPI, host: str, port: int, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **options,
    )


def seed_on_start(app: FastAPI, data: Path, state: LabState, pki: LabPki) -> None:
    """Make the cloud seed the demo tenant and the other one at the end of its start-up (its
    lifespan has made the tables by then), and keep the tenants' facts and first-time secrets
    in lab.json."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as value:
            context: CloudContext = app.state.cloud
            await seed_tenants(context.sessions, state, pki, context.clock.now())
            save_state(data, state)
            yield value

    app.router.lifespan_context = lifespan


async def seed_tenants(
    sessions: async_sessionmaker[AsyncSession], state: LabState, pki: LabPki, now: dt.datetime
) -> DemoTenant:
    """The demo tenant and the other one in the cloud's database (or the ones already there),
    their facts kept in `state`. Returns the demo tenant."""
    tenant = await seed_demo_tenant(
        sessions,
        pki=pki,
        scep_url=state.scep_url,
        scep_https_url=state.scep_https_url,
        now=now,
    )
    remember_tenant(state, tenant)
    other = await seed_other_tenant(sessions, pki=pki, scep_url=state.scep_url, now=now)
    state.other_tenant = tenant_state(state.other_tenant, other)
    return tenant


def remember_tenant(state: LabState, tenant: DemoTenant) -> None:
    """Put the demo tenant's facts in `state` (see `tenant_state`)."""
    state.tenant = tenant_state(state.tenant, tenant)


def tenant_state(kept: TenantState | None, tenant: DemoTenant) -> TenantState:
    """The tenant's facts: its secrets when they are new, else the ones already `kept` for that
    tenant (None if lab.json never saw them: the cloud keeps only hashes)."""
    known = kept if kept and kept.tenant_id == tenant.tenant_id else None
    passwords: tuple[str | None, str | None, str | None] = (None, None, None)
    if (new := tenant.secrets) is not None:
        passwords = (new.admin_password, new.operator_password, new.app_secret)
    elif known is not None:
        passwords = (known.admin_password, known.operator_password, known.app_secret)
    else:
        log.warning(
            "the tenant %s was made by an earlier lab.json: its passwords and secret are "
            "unknown (delete the cloud folder of the data folder to make a new tenant)",
            tenant.tenant_id,
        )
    admin_password, operator_password, app_secret = passwords
    return TenantState(
        tenant_id=tenant.tenant_id,
        domain=tenant.domain,
        display_name=tenant.display_name,
        admin_upn=tenant.admin_upn,
        operator_upn=tenant.operator_upn,
        app_id=tenant.app_id,
        app_name=tenant.app_name,
        app_permissions=list(tenant.app_permissions),
        admin_password=admin_password,
        operator_password=operator_password,
        app_secret=app_secret,
    )
