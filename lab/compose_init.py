"""`scep-lab compose init` and `scep-lab compose sign-in`: the one-shot steps of the lab under
docker compose (docker-compose.yml), around parties that each run alone as `python -m <package>`.

`init`, before the parties start (the cloud's database up): the lab PKI in the data folder, its
TLS server certificate also naming the cloud's service; the NDES host's chain files; lab.json
naming the compose services as the parties' hosts, so that `scep-lab status`, `scenario run`,
`challenge`... work from any container of the compose network; the demo tenant and the other
one, seeded into the cloud's database (what `scep-lab up` has the cloud do as it starts); and
`compose/connector.env`, the connector setting derived from the PKI (the policy module's
thumbprint), which the image's entry point exports (`SCEP_LAB_ENV_FILE`).

`sign-in`, once the cloud is healthy: the connector signs in as the demo tenant's administrator,
unless it holds an identity already (what `scep-lab up` does at the connector's first start).

Both read the same environment variables as the parties (`CLOUD_DATABASE_URL`, `CA_ADMIN_TOKEN`,
`NDES_ADMIN_USER`, `NDES_ADMIN_PASSWORD`, `CONNECTOR_*`), print no secret, and may run again:
the PKI, the tenant and the connector's identity are made once and reused.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import TypeVar

import httpx
import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from sqlalchemy.ext.asyncio import async_sessionmaker

from ca_sim.settings import CaSettings
from cloud_sim.settings import CloudSettings
from cloud_sim.store import create_tables
from connector.cloud import CloudError
from connector.settings import ConnectorSettings
from connector.signin import SignInFailed, sign_in
from ndes_plugin.settings import NdesSettings
from shared.clock import SystemClock
from shared.db import create_engine
from shared.pki import LabCert, LabPki, build_lab_pki, default_lab_spec

from .commands import DataOption
from .home import LAB_FORMAT, LabState, load_or_create_state, load_state, save_state
from .intune_wiring import NDES_HOST, chain_file, policy_module_thumbprint
from .runner import PKI_NOT_BEFORE, seed_tenants
from .seed import DemoTenant

S = TypeVar("S", bound=BaseSettings)
compose_app = typer.Typer(
    help="The one-shot steps of the lab under docker compose.", no_args_is_help=True
)

COMPOSE_HOSTS = {
    "cloud": "cloud",
    "ca": "ca",
    "ndes": "ndes",
    # the connector runs on the NDES host (its container shares the ndes container's network),
    # and both serve HTTPS with the NDES host's certificate, which names ndes.lab.test
    "connector": NDES_HOST,
    "ndes_https": NDES_HOST,
    "ndes_general": "ndes-general",
    "console": "console",
}
"""Each party's host on the compose network (docker-compose.yml: service names and aliases)."""


def connector_env_path(data: Path) -> Path:
    return data / "compose" / "connector.env"


def _settings(cls: type[S]) -> S:
    try:
        return cls()
    except ValidationError as exc:
        prefix = cls.model_config.get("env_prefix", "")
        typer.echo(f"bad settings (environment variables {prefix}*):\n{exc}", err=True)
        raise typer.Exit(2) from exc


def build_compose_pki(data: Path, state: LabState) -> LabPki:
    """The lab PKI in <data>/pki (as `scep-lab up` makes it), the cloud's TLS certificate also
    naming the cloud's host."""
    spec = default_lab_spec(
        bytes.fromhex(state.seed), PKI_NOT_BEFORE, hostnames=[state.hosts["cloud"]]
    )
    return build_lab_pki(spec, data / "pki")


async def seed_cloud(settings: CloudSettings, state: LabState, pki: LabPki) -> DemoTenant:
    """The demo tenant and the other one in the cloud's database (its tables made first, as the
    cloud's start-up makes them), or the ones already there, kept in `state` as `scep-lab up`
    keeps them. Returns the demo tenant."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    try:
        await create_tables(engine)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        return await seed_tenants(sessions, state, pki, SystemClock().now())
    finally:
        await engine.dispose()


def write_connector_env(data: Path, pki: LabPki) -> Path:
    path = connector_env_path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    thumbprints = json.dumps([policy_module_thumbprint(pki)])
    path.write_text(
        "# written by `scep-lab compose init`: the connector's settings derived from the lab PKI\n"
        f"CONNECTOR_POLICY_MODULE_THUMBPRINTS={shlex.quote(thumbprints)}\n"
    )
    return path


@compose_app.command("init")
def init(data: DataOption) -> None:
    """Before the parties: lab PKI, lab.json with the compose hosts, the demo tenant in the
    cloud's database, the connector's derived settings."""
    cloud = _settings(CloudSettings)
    ca = _settings(CaSettings)
    ndes = _settings(NdesSettings)
    state = load_or_create_state(data)
    if state.format != LAB_FORMAT:
        typer.echo(f"{data} holds a lab of data format {state.format}, not {LAB_FORMAT}", err=True)
        raise typer.Exit(2)
    state.policy = "intune"
    state.hosts = dict(COMPOSE_HOSTS)
    # the secrets the parties were given, for the lab's commands that call them
    state.ca_admin_token = ca.admin_token.get_secret_value()
    state.ndes_admin_user = ndes.admin_user.get_secret_value()
    state.ndes_admin_password = ndes.admin_password.get_secret_value()
    save_state(data, state)
    pki = build_compose_pki(data, state)
    for label in (LabCert.NDES_HOST_TLS, LabCert.NDES_POLICY_MODULE):
        chain_file(data, pki, label)
    typer.echo(f"lab PKI in {data / 'pki'}")
    tenant = asyncio.run(seed_cloud(cloud, state, pki))
    save_state(data, state)
    made = "seeded" if tenant.secrets is not None else "found"
    typer.echo(f"demo tenants {tenant.domain} (and another) {made} in the cloud's database")
    typer.echo(f"connector settings in {write_connector_env(data, pki)}")
    typer.echo(f"lab.json: {', '.join(f'{p} {state.url(p)}' for p in COMPOSE_HOSTS)}")


@compose_app.command("sign-in")
def sign_in_connector(data: DataOption) -> None:
    """Once the cloud is up: sign the connector in as the demo tenant's administrator (nothing
    to do when it has an identity)."""
    settings = _settings(ConnectorSettings)
    if settings.effective_identity_cert_path.exists():
        typer.echo(f"the connector has an identity: {settings.effective_identity_cert_path}")
        return
    state = load_state(data)
    tenant = state.tenant if state is not None else None
    if tenant is None or tenant.admin_password is None:
        typer.echo(f"no demo administrator in {data}/lab.json: run `compose init` first", err=True)
        raise typer.Exit(2)
    try:
        identity = asyncio.run(
            sign_in(settings, tenant.admin_upn, tenant.admin_password, NDES_HOST)
        )
    except (SignInFailed, CloudError, httpx.HTTPError, OSError) as exc:
        typer.echo(f"the connector could not sign in: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"connector signed in as {tenant.admin_upn}: connector {identity.connector_id}, "
        f"identity until {identity.not_after.isoformat()}"
    )
