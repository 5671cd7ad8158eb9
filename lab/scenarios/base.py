"""What a scenario is and what it may use: the lab's data folder and state, the cloud as its
administrator (the other tenant's too), the codec's SCEP client, simulated devices, the CA's
database and CRL, the connector's outbox, and the parties' fault points (`lab.faults`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography import x509

from device_sim.cloud import mtls_factory
from device_sim.device import DeviceConfig, ManagedDevice, Outcome
from device_sim.persona import Platform
from shared import scep
from shared.clock import OffsetClock
from shared.pki import KeySpec, generate_key

from .. import driver, faults, lab_api
from ..challenge import admin_session, fetch_challenge, find_id, request_spec
from ..home import LabState, tls_root_path, trace_path

T = TypeVar("T")
E_INVALIDARG = 0x80070057
RPC_S_SERVER_UNAVAILABLE = 0x800706BA
WINDOWS = ("LAB-LAPTOP-01", "Lab device certificate (Windows)")
IOS = ("LAB-IPHONE-01", "Lab user certificate (iOS)")
FLEET_SIZE_ENV = "SCEP_LAB_FLEET_SIZE"


def default_fleet_size() -> int:
    """The fleet scenario's size: $SCEP_LAB_FLEET_SIZE, else 500."""
    return int(os.environ.get(FLEET_SIZE_ENV) or 500)


class ScenarioFailed(Exception):
    """The verdict did not hold: the message says why."""


def expect(condition: object, why: str) -> None:
    if not condition:
        raise ScenarioFailed(why)


@dataclass
class Lab:
    data: Path
    state: LabState
    say: Callable[[str], None]
    fleet_size: int = dataclasses.field(default_factory=default_fleet_size)

    def _tenant(self, other: bool) -> LabState:
        """lab.json as seen by the demo tenant's administrator, or by the other tenant's."""
        if not other:
            return self.state
        expect(self.state.other_tenant, "lab.json holds no other tenant (run `scep-lab up`)")
        return dataclasses.replace(self.state, tenant=self.state.other_tenant)

    @contextlib.contextmanager
    def admin(self, *, other: bool = False) -> Iterator[httpx.Client]:
        with admin_session(self.data, self._tenant(other)) as client:
            yield client

    def challenge(self, device: str, profile: str, *, other: bool = False) -> dict[str, Any]:
        found = fetch_challenge(self.data, self._tenant(other), device, profile)
        self.say(f"the cloud issues a challenge for {device} ({profile}): {found['subject']}")
        return found

    def enrol(
        self,
        found: dict[str, Any],
        *,
        subject: str | None = None,
        ekus: tuple[str, ...] | None = None,
        bits: int | None = None,
        challenge: str | None = None,
        url: str | None = None,
    ) -> driver.Exchange:
        """A PKCSReq for what `found` describes, with the changes given, to Intune's NDES (or
        the SCEP server at `url`)."""
        spec = request_spec(found, subject=subject, ekus=ekus, challenge=challenge)
        key = generate_key(KeySpec.rsa(bits or int(found["keySize"])))
        scep_url = url or self.state.scep_url

        async def run() -> driver.Exchange:
            async with httpx.AsyncClient(timeout=60) as client:
                ca = await driver.fetch_ca_info(client, scep_url)
                return await driver.request(client, scep_url, ca, key, spec)  # type: ignore[arg-type]

        exchange = asyncio.run(run())
        status = exchange.result.status.name
        hresult = exchange.result.hresult
        extra = f", HRESULT 0x{hresult & 0xFFFFFFFF:08X}" if hresult is not None else ""
        self.say(f"the device sends a PKCSReq to NDES: {status}{extra}")
        return exchange

    def device(self, name: str, platform: Platform, folder: Path) -> ManagedDevice:
        """A simulated device whose clock follows the lab's virtual clock."""
        with self.admin() as client:
            device_id = find_id(client, name, "device")
            offset = client.get("/lab/clock").json().get("offsetSeconds") or 0.0
        return ManagedDevice(
            device_id,
            name,
            platform,
            folder,
            OffsetClock(dt.timedelta(seconds=float(offset))),
            mtls_factory(
                self.state.url("cloud"), tls_root_path(self.data), trace_dir=trace_path(self.data)
            ),
            config=DeviceConfig(retry_delay_seconds=2, trace_dir=trace_path(self.data)),
        )

    def run_device(self, device: ManagedDevice, *, enrol: bool = True) -> list[Outcome]:
        async def run() -> list[Outcome]:
            try:
                if enrol:
                    trust = ssl.create_default_context(cafile=str(tls_root_path(self.data)))
                    async with httpx.AsyncClient(
                        base_url=self.state.url("cloud"), verify=trust, timeout=60
                    ) as http:
                        with self.admin() as client:
                            token = client.headers["Authorization"].split()[1]
                        await device.enroll(http, token)
                return await device.check_in()
            finally:
                await device.aclose()

        outcomes = asyncio.run(run())
        self.say(f"{device.name} checks in: {', '.join(o.state for o in outcomes) or 'nothing'}")
        return outcomes

    def report(self, device: str) -> list[dict[str, Any]]:
        with self.admin() as client:
            device_id = find_id(client, device, "device")
            answer = client.get(
                f"/beta/deviceManagement/managedDevices/{device_id}/managedDeviceCertificateStates"
            )
        rows: list[dict[str, Any]] = answer.json()["value"]
        return rows

    def row_for(self, device: str, serial: str) -> dict[str, Any] | None:
        return next(
            (r for r in self.report(device) if (r.get("certificateSerialNumber") or "") == serial),
            None,
        )

    def ca_count(self) -> int:
        return len(self.ca_requests())

    def ca_requests(self, after: int = 0) -> list[dict[str, Any]]:
        """The CA database's requests after the first `after` (a `ca_count()` taken before)."""
        return lab_api.ca_requests(self.state, offset=after)

    def outbox(self, after: int = 0) -> dict[str, Any]:
        """The connector's outbox (entries after id `after`) and which instance answers."""
        return lab_api.connector_outbox(self.data, self.state, after)

    def settle(self) -> None:
        """Wait (bounded) until the connector has delivered every report it holds: a fault
        armed afterwards meets this scenario's notifications only."""
        self.wait("the connector's outbox empty", lambda: self.outbox()["pending"] == 0)

    def outbox_mark(self) -> int:
        """The id of the connector's latest report: later ones are this scenario's."""
        return max((int(e["id"]) for e in self.outbox()["entries"]), default=0)

    @contextlib.contextmanager
    def fault(self, point: str, **options: Any) -> Iterator[None]:
        """Arm a fault point (`scep-lab fault inject`), and clear every fault afterwards."""
        call = faults.fault_call(point, **options)
        try:
            answer = faults.send(self.data, self.state, call)
            expect(answer.status_code < 300, f"{point}: HTTP {answer.status_code} {answer.text}")
            yield
        finally:
            failed = faults.clear(self.data, self.state)
            expect(not failed, f"the faults could not be cleared: {', '.join(failed)}")

    def crl_serials(self) -> set[int]:
        der = httpx.get(f"{self.state.url('ca')}/pki/issuing.crl", timeout=10).content
        return {entry.serial_number for entry in x509.load_der_x509_crl(der)}

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise ScenarioFailed(f"{what}: not within {timeout:.0f} s")
            time.sleep(0.5)

    def refused(self, exchange: driver.Exchange, hresult: int) -> None:
        result = exchange.result
        expect(result.status is scep.PkiStatus.FAILURE, f"expected a FAILURE, got {result.status}")
        got = (result.hresult or 0) & 0xFFFFFFFF
        expect(got == hresult, f"expected HRESULT 0x{hresult:08X}, got 0x{got:08X}")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Callable[[Lab], str]
    """Does it; returns the reason it passed, raises ScenarioFailed with the reason it did not."""
    for_good: bool = False
    """It moves the lab's clock past a certificate's end for good: never part of `--all`."""


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, description: str, *, for_good: bool = False
) -> Callable[[Callable[[Lab], str]], Callable[[Lab], str]]:
    def register(run: Callable[[Lab], str]) -> Callable[[Lab], str]:
        SCENARIOS[name] = Scenario(name, description, run, for_good)
        return run

    return register


@dataclass(frozen=True)
class Verdict:
    scenario: str
    passed: bool
    reason: str
    seconds: float


def run_scenario(item: Scenario, lab: Lab) -> Verdict:
    started = time.perf_counter()
    try:
        reason = item.run(lab)
        passed = True
    except ScenarioFailed as exc:
        reason, passed = str(exc), False
    except (
        httpx.HTTPError,
        OSError,
        RuntimeError,
        driver.EnrolmentFailed,
        faults.FaultError,
    ) as exc:
        reason, passed = f"{type(exc).__name__}: {exc}", False
    return Verdict(item.name, passed, reason, time.perf_counter() - started)
