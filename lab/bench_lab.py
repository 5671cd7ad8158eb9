"""The lab's side of `scep-lab bench intune`: new Windows devices of the demo tenant enrolled
as `scep-lab devices enroll` enrols them (`run_fleet`, one retry), with the bench's keys; then
every certificate checked: installed on its device, chained to the lab's issuing and root CAs,
its serial in the CA's database as issued and not issued before."""

from __future__ import annotations

import datetime as dt
import ssl
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509

from device_sim.cloud import mtls_factory, sign_in
from device_sim.device import DeviceConfig, ManagedDevice
from device_sim.fleet import DeviceRecord, DeviceResult, run_fleet
from device_sim.persona import Platform
from device_sim.runner import lab_clock, list_devices
from device_sim.scep_client import DeviceFailure
from device_sim.trust import verify_chain

from .bench_peer import RETRIES, ReusedKeys, RoundFigures, figures
from .challenge import admin_session
from .devices import WINDOWS_GROUP, add_devices
from .home import LabState, tls_root_path


@dataclass
class LabSide:
    data: Path
    state: LabState
    root: x509.Certificate
    issuing: x509.Certificate
    seen: set[int] = field(default_factory=set)
    """Serials of the certificates issued so far."""

    def add(self, prefix: str, count: int) -> list[str]:
        with admin_session(self.data, self.state) as client:
            return add_devices(client, Platform.WINDOWS, count, WINDOWS_GROUP, prefix)

    async def round(
        self,
        names: list[str],
        keys: ReusedKeys,
        parallel: int,
        meter: AbstractContextManager[object],
    ) -> RoundFigures:
        """Enrol the devices called `names` (`meter` around the timed part), then check."""
        tenant = self.state.tenant
        assert tenant is not None
        assert tenant.admin_password is not None
        cloud, tls_root = self.state.url("cloud"), tls_root_path(self.data)
        devices: dict[str, ManagedDevice] = {}
        trust = ssl.create_default_context(cafile=str(tls_root))
        async with httpx.AsyncClient(base_url=cloud, verify=trust, timeout=60) as http:
            token = await sign_in(http, tenant.tenant_id, tenant.admin_upn, tenant.admin_password)
            wanted = set(names)
            records = [r for r in await list_devices(http, token) if r.name in wanted]
            clock = await lab_clock(http, token)
            factory = mtls_factory(cloud, tls_root)

            def make(record: DeviceRecord) -> ManagedDevice:
                folder = self.data / "bench-devices" / record.device_id
                device = ManagedDevice(
                    record.device_id, record.name, record.platform, folder, clock, factory,
                    keys=keys, config=DeviceConfig(retry_delay_seconds=1.0),
                )  # fmt: skip
                devices[record.name] = device
                return device

            with meter:
                report = await run_fleet(
                    records, make_device=make, enroll_http=http, token=token,
                    concurrency=parallel, retries=RETRIES,
                )  # fmt: skip
        issued = await self._issued_serials()
        missing = sorted(wanted - {r.name for r in records})
        failures = [f"{name}: not among the tenant's devices" for name in missing]
        latencies: list[float] = []
        retried = 0
        for result in report.results:
            why = self._check(result, devices[result.record.name], issued, clock.now())
            if why is None:
                latencies.append(result.seconds)
                retried += result.check_ins > 1
            else:
                failures.append(f"{result.record.name}: {why}")
        return figures(
            latencies, report.elapsed, len(names), failures, retried=retried, duplicates=0
        )

    def _check(
        self, result: DeviceResult, device: ManagedDevice, issued: set[int], now: dt.datetime
    ) -> str | None:
        """Why the device's enrolment does not count (None: it does)."""
        if not result.installed:
            bad = [o for o in result.outcomes if not o.ok]
            return result.error or "; ".join(
                f"{o.state} (0x{(o.hresult or 0) & 0xFFFFFFFF:08X}) {o.detail}" for o in bad
            ) or "no SCEP profile applies"  # fmt: skip
        if len(device.installed) != 1:
            return f"{len(device.installed)} certificates installed, not 1"
        [installed] = device.installed.values()
        cert = installed.certificate
        try:
            chain = verify_chain(cert, intermediates=[self.issuing], trusted=[self.root], now=now)
        except DeviceFailure as exc:
            return f"does not chain to the lab's CA: {exc}"
        if chain[1:] != (self.issuing, self.root):
            return "not issued by the lab's issuing CA"
        if cert.serial_number not in issued:
            return f"serial {installed.serial} is not in the CA's database as issued"
        if cert.serial_number in self.seen:
            return f"serial {installed.serial} was issued before"
        self.seen.add(cert.serial_number)
        return None

    async def _issued_serials(self) -> set[int]:
        """Every serial the CA's database lists as issued (its admin API, paged)."""
        serials: set[int] = set()
        headers = {"authorization": f"Bearer {self.state.ca_admin_token}"}
        async with httpx.AsyncClient(base_url=self.state.url("ca"), headers=headers) as http:
            for offset in range(0, 10**7, 1000):
                params = {"disposition": "issued", "limit": "1000", "offset": str(offset)}
                page = await http.get("/ca/requests", params=params, timeout=60)
                page.raise_for_status()
                rows = page.json()
                serials |= {int(row["serialNumber"], 16) for row in rows}
                if len(rows) < 1000:
                    break
        return serials
