"""`scep-lab info`: how to reach the lab and sign in to its cloud, read from lab.json alone.

The demo tenant's ids and the secrets shown once at its creation are kept in lab.json (mode 0600)
by `scep-lab up`; so are the ports. Nothing here needs the lab to be running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shared.api.entra import GRAPH_SCOPE, INTUNE_SCOPE, PUBLIC_CLIENT_ID

from .commands import DataOption
from .home import LabState, load_state, tls_root_path

# Intune's own names (the cloud's discovery lists the same URLs: tests/e2e/test_lab_cloud.py)
INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000"
SCEP_VALIDATION_SERVICE = "ScepRequestValidationFEService"
PKI_CONNECTOR_SERVICE = "PkiConnectorFEService"

console = Console()


def urls(state: LabState) -> dict[str, str]:
    """Every URL of the lab, by what it is for."""
    cloud = state.url("cloud")
    tenant = state.tenant.tenant_id if state.tenant else "{tenant}"
    return {
        "cloud": cloud,
        "token_endpoint": f"{cloud}/{tenant}/oauth2/v2.0/token",
        "openid_configuration": f"{cloud}/{tenant}/v2.0/.well-known/openid-configuration",
        "discovery": f"{cloud}/v1.0/servicePrincipals/appId={INTUNE_APP_ID}/endpoints",
        "graph": f"{cloud}/beta/deviceManagement",
        "validation_service": f"{cloud}/RACerts/{SCEP_VALIDATION_SERVICE}",
        "pki_connector_service": f"{cloud}/RACerts/{PKI_CONNECTOR_SERVICE}",
        "ndes_scep": state.scep_url,
        "ndes_admin": f"{state.url('ndes')}/certsrv/mscep_admin/",
        "ca": state.url("ca"),
        "console": state.url("console"),
    } | (
        {  # `up --policy intune` runs a second NDES, with NDES's own one-time passwords
            "ndes_general_scep": f"{state.url('ndes_general')}/certsrv/mscep/mscep.dll",
            "ndes_general_admin": f"{state.url('ndes_general')}/certsrv/mscep_admin/",
        }
        if state.policy == "intune"
        else {}
    )


def describe(data: Path, state: LabState) -> dict[str, Any]:
    """What `info --json` prints. Secrets unknown to this lab.json are null."""
    tenant = state.tenant
    found: dict[str, Any] = {
        "data_dir": str(data),
        "tls_root": str(tls_root_path(data)),
        "tenant": None,
        "administrator": None,
        "operator": None,
        "app": None,
    }
    if tenant is not None:
        found["tenant"] = {
            "id": tenant.tenant_id,
            "name": tenant.display_name,
            "domain": tenant.domain,
        }
        found["administrator"] = {
            "upn": tenant.admin_upn,
            "password": tenant.admin_password,
            "role": "Intune Administrator",
            "client_id": PUBLIC_CLIENT_ID,
        }
        found["operator"] = {
            "upn": tenant.operator_upn,
            "password": tenant.operator_password,
            "role": "Read Only Operator",
            "client_id": PUBLIC_CLIENT_ID,
        }
        found["app"] = {
            "name": tenant.app_name,
            "app_id": tenant.app_id,
            "secret": tenant.app_secret,
            "permissions": tenant.app_permissions,
        }
    other = state.other_tenant
    found["other_tenant"] = (
        None
        if other is None
        else {
            "id": other.tenant_id,
            "name": other.display_name,
            "domain": other.domain,
            "administrator": {"upn": other.admin_upn, "password": other.admin_password},
        }
    )
    found["scopes"] = {"intune": INTUNE_SCOPE, "graph": GRAPH_SCOPE}
    found["ndes_admin"] = {"user": state.ndes_admin_user, "password": state.ndes_admin_password}
    found["urls"] = urls(state)
    return found


def credentials_table(data: Path, state: LabState) -> Table:
    """The demo tenant: who signs in where, with what (secrets included: it is the lab's)."""
    table = Table(title="the demo tenant (also: scep-lab info)")
    table.add_column("what")
    table.add_column("value", overflow="fold")  # URLs and secrets whole, never cut short
    links = urls(state)
    tenant = state.tenant
    if tenant is None:
        table.add_row("tenant", "not made yet: `scep-lab up` makes it when the cloud starts")
    else:
        unknown = "[yellow]unknown (made by an earlier lab.json)[/yellow]"
        table.add_row("tenant", f"{tenant.display_name} {tenant.tenant_id} ({tenant.domain})")
        table.add_row("administrator", f"{tenant.admin_upn} (Intune Administrator)")
        table.add_row("  password", tenant.admin_password or unknown)
        table.add_row("read-only operator", tenant.operator_upn)
        table.add_row("  password", tenant.operator_password or unknown)
        table.add_row("app registration", f"{tenant.app_name}: {tenant.app_id}")
        table.add_row("  client secret", tenant.app_secret or unknown)
        table.add_row("  permissions", ", ".join(tenant.app_permissions))
    table.add_row("token endpoint", links["token_endpoint"])
    table.add_row("  scopes", f"{INTUNE_SCOPE} or {GRAPH_SCOPE}")
    table.add_row("discovery", links["discovery"])
    table.add_row("Graph (admin API)", links["graph"])
    table.add_row("validation service", links["validation_service"])
    table.add_row("PKI connector service", links["pki_connector_service"])
    table.add_row("NDES SCEP URL", links["ndes_scep"])
    if "ndes_general_scep" in links:
        table.add_row("NDES, one-time passwords", links["ndes_general_scep"])
    table.add_row("CA", links["ca"])
    table.add_row("lab console", links["console"] + "/")
    other = state.other_tenant
    if other is not None:
        table.add_row("other tenant", f"{other.display_name} {other.tenant_id} ({other.domain})")
        table.add_row("  administrator", f"{other.admin_upn} / {other.admin_password or '?'}")
    table.add_row("trust (TLS root)", str(tls_root_path(data)))
    return table


def info(
    data: DataOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The demo tenant's credentials and every URL of the lab (no network needed)."""
    state = load_state(data)
    if state is None:
        typer.echo(f"no lab in {data}: run `scep-lab up` first", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(describe(data, state), indent=2))
        return
    console.print(f"data folder: {data}")
    console.print(credentials_table(data, state))
    links = urls(state)
    for page in (links["ndes_admin"], links.get("ndes_general_admin")):
        if page is not None:
            console.print(
                f"NDES admin page: {page} "
                f"(user {state.ndes_admin_user}, password {state.ndes_admin_password})"
            )
