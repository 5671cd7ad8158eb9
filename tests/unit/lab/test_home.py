"""lab.json: the demo tenant's facts and secrets round-trip (mode 0600), an older or newer
lab.json still loads, and a second `up` keeps the secrets the first one was shown."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lab.home import LAB_FORMAT, LabState, Ports, load_or_create_state, load_state, save_state
from lab.runner import remember_tenant, tenant_state
from lab.seed import DemoSecrets, DemoTenant

TENANT = DemoTenant(
    tenant_id="6f1c1f1e-0000-4000-8000-000000000001",
    display_name="Contoso Lab",
    domain="contoso-lab.onmicrosoft.com",
    admin_upn="admin@contoso-lab.onmicrosoft.com",
    operator_upn="operator@contoso-lab.onmicrosoft.com",
    app_id="6f1c1f1e-0000-4000-8000-0000000000aa",
    app_name="Lab third-party CA",
    app_permissions=("Application.Read.All", "scep_challenge_provider"),
    users=(),
    groups=(),
    devices=(),
    profiles=(),
)
SECRETS = DemoSecrets("admin-password", "operator-password", "app-secret")


def test_the_tenant_and_its_secrets_round_trip(tmp_path: Path) -> None:
    state = LabState()
    remember_tenant(state, replace(TENANT, secrets=SECRETS))
    save_state(tmp_path, state)
    assert (tmp_path / "lab.json").stat().st_mode & 0o777 == 0o600
    loaded = load_state(tmp_path)
    assert loaded == state
    assert loaded.tenant is not None
    assert (loaded.tenant.admin_password, loaded.tenant.app_secret) == (
        "admin-password",
        "app-secret",
    )


def test_the_other_tenant_and_the_general_ndes_port_round_trip(tmp_path: Path) -> None:
    state = LabState()
    other = replace(TENANT, tenant_id="6f1c1f1e-0000-4000-8000-000000000002", secrets=SECRETS)
    state.other_tenant = tenant_state(None, other)
    state.ports.ndes_general = 18081
    save_state(tmp_path, state)
    loaded = load_state(tmp_path)
    assert loaded == state
    assert (
        loaded.other_tenant is not None and loaded.other_tenant.admin_password == "admin-password"
    )
    assert loaded.url("ndes_general") == "http://127.0.0.1:18081"
    kept = tenant_state(loaded.other_tenant, replace(other, secrets=None))  # found again
    assert kept == loaded.other_tenant


def test_a_second_up_keeps_the_secrets_of_the_first(caplog: pytest.LogCaptureFixture) -> None:
    state = LabState()
    remember_tenant(state, replace(TENANT, secrets=SECRETS))
    remember_tenant(state, TENANT)  # found again: no secrets this time
    assert state.tenant is not None
    assert state.tenant.operator_password == "operator-password"
    assert not caplog.records


def test_a_tenant_this_lab_json_never_saw_made_has_unknown_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = LabState()
    remember_tenant(state, TENANT)
    assert state.tenant is not None
    assert state.tenant.admin_password is None
    assert "unknown" in caplog.text
    assert "admin-password" not in caplog.text


def test_lab_json_from_another_version_loads(tmp_path: Path) -> None:
    # before the cloud: no cloud port, no tenant; and a key this version does not know
    old = {"seed": "00" * 16, "ports": {"ca": 9001, "ndes": 9002}, "retired_setting": 1}
    (tmp_path / "lab.json").write_text(json.dumps(old))
    loaded = load_state(tmp_path)
    assert loaded is not None
    assert loaded.ports == Ports(cloud=8443, ca=9001, ndes=9002)
    assert loaded.format == 1  # written before formats were: `up` refuses it
    assert loaded.tenant is None
    assert loaded.url("cloud") == "https://127.0.0.1:8443"
    assert loaded.url("ndes") == "http://127.0.0.1:9002"


def test_a_new_lab_json_has_the_current_format_and_intune_policy(tmp_path: Path) -> None:
    made = load_or_create_state(tmp_path)
    again = load_state(tmp_path)
    assert again is not None
    assert (made.format, again.format) == (LAB_FORMAT, LAB_FORMAT)
    assert again.policy == "intune"
    assert again.url("connector") == f"https://127.0.0.1:{again.ports.connector}"
