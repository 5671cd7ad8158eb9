"""`python -m connector enroll` against the running lab's cloud: only a licensed Intune
administrator signs a connector in; every failure leaves no identity behind; then
`python -m connector` serves its local API with that identity."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.home import LabState, load_state, tls_root_path
from lab.procs import free_port, running, wait_http
from tests.support.labproc import new_lab, start_up, stop_up

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, LabState]]:
    data = tmp_path_factory.mktemp("connector-lab") / "lab"
    new_lab(data, policy="otp")  # the cloud, CA and NDES only: this test runs its own connectors
    state = load_state(data)
    assert state is not None
    proc = start_up(data, "--policy", "otp")
    try:
        wait_http(f"{state.url('ndes')}/health", timeout=120, proc=proc)
        seeded = load_state(data)
        assert seeded is not None and seeded.tenant is not None
        yield data, seeded
    finally:
        assert stop_up(proc) == 0


def _env(
    data: Path, state: LabState, folder: Path, password: str, cloud_port: int | None = None
) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    return base | {
        "CONNECTOR_DATA_DIR": str(folder),
        "CONNECTOR_CLOUD_URL": f"https://127.0.0.1:{cloud_port or state.ports.cloud}",
        "CONNECTOR_CLOUD_CA_PATH": str(tls_root_path(data)),
        "CONNECTOR_ADMIN_PASSWORD": password,
    }


def _enroll(env: dict[str, str], upn: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector", "enroll", "--admin", upn, "--machine", "NDES01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_only_an_intune_administrator_signs_the_connector_in(
    lab: tuple[Path, LabState], tmp_path: Path
) -> None:
    data, state = lab
    tenant = state.tenant
    assert tenant is not None and tenant.admin_password and tenant.operator_password
    refusals = [
        (tenant.admin_upn, "not-the-password", None, "sign-in refused"),
        (tenant.operator_upn, tenant.operator_password, None, "403"),
        (tenant.admin_upn, tenant.admin_password, free_port(), "connector:"),
    ]
    for upn, password, port, expected in refusals:
        folder = tmp_path / f"refused-{len(list(tmp_path.iterdir()))}"
        done = _enroll(_env(data, state, folder, password, port), upn)
        assert done.returncode == 1, done.stdout + done.stderr
        assert expected in done.stderr
        assert not any(folder.glob("identity*")), "a failed sign-in left identity files"

    folder = tmp_path / "connector"
    done = _enroll(_env(data, state, folder, tenant.admin_password), tenant.admin_upn)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "signed in: connector" in done.stdout
    assert (folder / "identity.key").stat().st_mode & 0o077 == 0
    assert tenant.admin_password not in done.stdout + done.stderr

    port = free_port()
    env = _env(data, state, folder, "") | {"CONNECTOR_PORT": str(port)}
    env.pop("CONNECTOR_ADMIN_PASSWORD")
    with running(
        [sys.executable, "-m", "connector"], log=tmp_path / "connector.log", env=env
    ) as proc:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        assert health["identityNotAfter"] is not None
        assert health["outboxPending"] == 0
        body = {
            "transactionId": "t-1",
            "certificateRequest": "AAAA",
            "template": "IPSECIntermediateOffline",
        }
        refused = httpx.post(f"http://127.0.0.1:{port}/policy/verifyRequest", json=body, timeout=10)
        # no policy module allowed yet: everyone is refused, and told how to allow one
        assert refused.status_code == 403
        assert "CONNECTOR_POLICY_MODULE_THUMBPRINTS" in refused.text
