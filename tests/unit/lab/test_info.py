"""`scep-lab info`: every URL and credential of the lab from lab.json alone, the general NDES
and the other tenant included."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lab.cli import app
from lab.home import LabState, TenantState, save_state


def tenant(name: str, domain: str) -> TenantState:
    return TenantState(
        f"id-{name}",
        domain,
        name,
        f"admin@{domain}",
        f"op@{domain}",
        "app",
        "App",
        [],
        "pw-" + name,
    )


def test_info_names_the_general_ndes_the_console_and_the_other_tenant(tmp_path: Path) -> None:
    state = LabState(tenant=tenant("Contoso Lab", "contoso.test"))
    state.other_tenant = tenant("Fabrikam Lab", "fabrikam.test")
    state.ports.ndes_general, state.ports.console = 18081, 18000
    save_state(tmp_path, state)
    found = json.loads(CliRunner().invoke(app, ["info", "--json", "--data", str(tmp_path)]).output)
    assert found["urls"]["ndes_general_scep"] == "http://127.0.0.1:18081/certsrv/mscep/mscep.dll"
    assert found["urls"]["console"] == "http://127.0.0.1:18000"
    assert found["other_tenant"]["name"] == "Fabrikam Lab"
    assert found["other_tenant"]["administrator"] == {
        "upn": "admin@fabrikam.test",
        "password": "pw-Fabrikam Lab",
    }
    table = CliRunner().invoke(app, ["info", "--data", str(tmp_path)], env={"COLUMNS": "200"})
    assert "Fabrikam Lab" in table.output and "18081/certsrv/mscep_admin/" in table.output


def test_the_otp_lab_has_one_ndes(tmp_path: Path) -> None:
    save_state(tmp_path, LabState(policy="otp"))
    found = json.loads(CliRunner().invoke(app, ["info", "--json", "--data", str(tmp_path)]).output)
    assert "ndes_general_scep" not in found["urls"] and found["other_tenant"] is None
