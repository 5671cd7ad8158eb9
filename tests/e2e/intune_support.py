"""The Intune chain as separate processes on loopback, for the end-to-end tests: the cloud
(`scep-lab up --only cloud`, which seeds the demo tenant), the CA and NDES with the Intune policy
module (`scep-lab up --only ca,ndes`), and the connector as `python -m connector`, signed in with
`python -m connector enroll` and configured from the same settings `scep-lab up` would give it.
Each can be stopped, killed and started again on its own; every wait is bounded."""

from __future__ import annotations

import datetime as dt
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from lab.challenge import admin_session, fetch_challenge, find_id
from lab.home import LabState, load_state, tls_root_path
from lab.intune_wiring import connector_settings, settings_environment
from lab.procs import wait_http
from lab.runner import build_pki
from shared.pki import KeySpec, LabCert, LabPki, PrivateKey, generate_key
from tests.support.labproc import new_lab, start_up, stop_up

T = TypeVar("T")
START_TIMEOUT = 120.0
WINDOWS_DEVICE = "LAB-LAPTOP-01"
WINDOWS_PROFILE = "Lab device certificate (Windows)"
E_INVALIDARG = 0x80070057
RPC_S_SERVER_UNAVAILABLE = 0x800706BA


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """`probe()` until it returns something other than None (or False), bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


@dataclass
class Chain:
    data: Path
    state: LabState
    pki: LabPki
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # -- processes ----------------------------------------------------------------------------

    def log(self, name: str) -> str:
        path = self.data / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_cloud(self) -> None:
        proc = start_up(self.data, "--only", "cloud", log_name="cloud.log")
        self.procs["cloud"] = proc
        trust = ssl.create_default_context(cafile=str(tls_root_path(self.data)))
        wait_http(
            f"{self.state.url('cloud')}/health", timeout=START_TIMEOUT, proc=proc, verify=trust
        )

    def start_ca_ndes(self) -> None:
        proc = start_up(self.data, "--only", "ca,ndes", log_name="ca-ndes.log")
        self.procs["ca-ndes"] = proc
        wait_http(f"{self.state.url('ndes')}/health", timeout=START_TIMEOUT, proc=proc)

    def connector_env(self) -> dict[str, str]:
        settings = connector_settings(self.data, self.state, self.pki)
        base = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        return (
            base
            | settings_environment(settings)
            | {
                "CONNECTOR_OUTBOX_POLL_SECONDS": "0.5",
                "CONNECTOR_REVOCATION_POLL_SECONDS": "1",
            }
        )

    def enroll_connector(self) -> subprocess.CompletedProcess[str]:
        tenant = self.state.tenant
        assert tenant is not None and tenant.admin_password is not None
        env = self.connector_env() | {"CONNECTOR_ADMIN_PASSWORD": tenant.admin_password}
        return subprocess.run(
            [sys.executable, "-m", "connector", "enroll", "--admin", tenant.admin_upn,
             "--machine", "ndes.lab.test"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def start_connector(self) -> None:
        with open(self.data / "connector.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "connector"],
                env=self.connector_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs["connector"] = proc
        trust = ssl.create_default_context(cafile=str(self.pki.path(LabCert.ROOT_CA)))
        wait_http(
            f"{self.state.url('connector')}/health", timeout=START_TIMEOUT, proc=proc, verify=trust
        )

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash: no shutdown code runs."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                with suppress(subprocess.TimeoutExpired):
                    stop_up(proc)

    # -- the cloud as an administrator sees it ------------------------------------------------

    @contextmanager
    def admin(self) -> Iterator[httpx.Client]:
        with admin_session(self.data, self.state) as client:
            yield client

    def challenge(self, device: str = WINDOWS_DEVICE, profile: str = WINDOWS_PROFILE) -> Any:
        return fetch_challenge(self.data, self.state, device, profile)

    def certificate_states(self, device: str) -> list[dict[str, Any]]:
        with self.admin() as client:
            device_id = find_id(client, device, "device")
            path = (
                f"/beta/deviceManagement/managedDevices/{device_id}/managedDeviceCertificateStates"
            )
            response = client.get(path)
        assert response.status_code == 200, response.text
        states: list[dict[str, Any]] = response.json()["value"]
        return states

    def issued_state(self, device: str, cert: x509.Certificate) -> dict[str, Any] | None:
        """The device's certificate state for `cert` once the cloud shows it issued."""
        serial = f"{cert.serial_number:x}"
        for state in self.certificate_states(device):
            if (state.get("certificateSerialNumber") or "").lower() == serial:
                return state
        return None

    def set_fault(self, point: str, **body: object) -> None:
        with self.admin() as client:
            answer = client.put(f"/lab/faults/{point}", json=body)
        assert answer.status_code == 204, answer.text

    def clear_faults(self) -> None:
        with self.admin() as client:
            assert client.delete("/lab/faults").status_code == 204

    # -- the CA -------------------------------------------------------------------------------

    def ca_request_count(self) -> int:
        answer = httpx.get(
            f"{self.state.url('ca')}/ca/requests",
            params={"limit": "1000"},
            headers={"authorization": f"Bearer {self.state.ca_admin_token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return len(answer.json())

    def crl_serials(self) -> set[int]:
        der = httpx.get(f"{self.state.url('ca')}/pki/issuing.crl", timeout=10).content
        return {entry.serial_number for entry in x509.load_der_x509_crl(der)}


def start_chain(data: Path) -> Chain:
    state = new_lab(data, policy="intune")
    chain = Chain(data, state, build_pki(data, state))
    try:
        chain.start_cloud()
        seeded = load_state(data)
        assert seeded is not None and seeded.tenant is not None, chain.log("cloud")
        chain.state = seeded
        chain.start_ca_ndes()
        enrolled = chain.enroll_connector()
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
        chain.start_connector()
    except BaseException:
        chain.stop_all()
        raise
    return chain


def device_key(bits: int = 2048) -> PrivateKey:
    return generate_key(KeySpec.rsa(bits))


def thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def parse_when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
