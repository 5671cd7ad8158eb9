"""The Intune chain in `scep-lab up`: the connector's settings and the policy module's, the
certificates between them, and the connector's sign-in on the first start.

Trust, as on a real NDES host: the connector's local API serves HTTPS with the NDES host's
certificate (`ndes-host-tls`, from the enterprise issuing CA) and accepts exactly one client,
the policy module, whose client-authentication certificate (`ndes-policy-module`, same CA) is
allowed by SHA-1 thumbprint (the real module's `NDESCertThumbprint`); each side trusts the
enterprise root for the other. Towards the cloud the connector uses the identity certificate the
cloud issued when an Intune administrator signed it in; it trusts the lab's public TLS root as a
real connector trusts Microsoft's.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from fastapi import FastAPI
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from connector.settings import ConnectorSettings
from connector.signin import sign_in
from shared.pki import LabCert, LabPki

from .home import LabState, tls_root_path, trace_path

log = logging.getLogger(__name__)

NDES_HOST = "ndes.lab.test"
"""The NDES host's name, as the connector's sign-in records it (its machineName)."""
REVOCATION_POLL_SECONDS = 5.0
"""The lab looks for revocation work often, so a retire shows up at the CA within seconds."""
HEARTBEAT_SECONDS = 60.0


def chain_file(data: Path, pki: LabPki, label: LabCert) -> Path:
    """`<data>/pki/<label>-chain.pem`: the certificate and its issuing CA (not the root), what a
    TLS peer sends so that the other side can build the path to the root it trusts."""
    path = data / "pki" / f"{label.value}-chain.pem"
    pem = pki.chain_pem(label, include_root=False)
    if not path.exists() or path.read_bytes() != pem:
        path.write_bytes(pem)
    return path


def policy_module_thumbprint(pki: LabPki) -> str:
    return pki.cert(LabCert.NDES_POLICY_MODULE).fingerprint(hashes.SHA1()).hex().upper()


def connector_settings(data: Path, state: LabState, pki: LabPki) -> ConnectorSettings:
    return ConnectorSettings(
        host=state.host,
        port=state.ports.connector,
        data_dir=data / "connector",
        cloud_url=state.url("cloud"),
        cloud_ca_path=tls_root_path(data),
        tls_cert_path=chain_file(data, pki, LabCert.NDES_HOST_TLS),
        tls_key_path=pki.key_path(LabCert.NDES_HOST_TLS),
        policy_module_ca_path=pki.path(LabCert.ROOT_CA),
        policy_module_thumbprints=[policy_module_thumbprint(pki)],
        heartbeat_seconds=HEARTBEAT_SECONDS,
        ca_url=state.url("ca"),
        ca_admin_token=SecretStr(state.ca_admin_token),
        revocation_poll_seconds=REVOCATION_POLL_SECONDS,
        trace_dir=trace_path(data),
    )


def policy_module_settings(data: Path, state: LabState, pki: LabPki) -> dict[str, Any]:
    """NDES's settings for the Intune policy module (`NDES_INTUNE_*`)."""
    return {
        "intune_connector_url": state.url("connector"),
        "intune_client_cert_path": chain_file(data, pki, LabCert.NDES_POLICY_MODULE),
        "intune_client_key_path": pki.key_path(LabCert.NDES_POLICY_MODULE),
        "intune_connector_ca_path": pki.path(LabCert.ROOT_CA),
    }


class ConnectorSignInError(RuntimeError):
    pass


def sign_in_on_start(app: FastAPI, settings: ConnectorSettings, state: LabState) -> None:
    """Make the connector sign in as the demo tenant's administrator before it starts, when it
    has no identity yet (the first `up`). The cloud is up by then: parties start in order."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        if not settings.effective_identity_cert_path.exists():
            tenant = state.tenant
            if tenant is None or tenant.admin_password is None:
                raise ConnectorSignInError(
                    "the connector has no identity and lab.json does not hold the demo "
                    "administrator's password: run `python -m connector enroll` by hand, or "
                    "start from a fresh data folder"
                )
            identity = await sign_in(settings, tenant.admin_upn, tenant.admin_password, NDES_HOST)
            log.info(
                "connector signed in as %s: connector %s, identity until %s",
                tenant.admin_upn,
                identity.connector_id,
                identity.not_after.isoformat(),
            )
        async with inner(app) as value:
            yield value

    app.router.lifespan_context = lifespan


def settings_environment(settings: BaseSettings) -> dict[str, str]:
    """The environment variables that make `python -m <party>` build the same settings (what a
    container or a separate process of the party is given): `<PREFIX><FIELD>` for every field
    that is set, lists as JSON, secrets in clear (the caller keeps them out of logs)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        env[f"{prefix}{name}".upper()] = text
    return env
