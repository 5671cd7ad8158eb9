"""A fleet: many devices of every platform enrol at once (`device_sim.fleet.run_fleet`, keys
from a pool made beforehand), and every certificate is issued once at the CA, reported once by
the connector and shown once in the cloud's reports."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter

import httpx

from device_sim.cloud import mtls_factory, sign_in
from device_sim.device import DeviceConfig, ManagedDevice
from device_sim.fleet import DeviceRecord, FleetReport, run_fleet
from device_sim.keys import KeyPool
from device_sim.persona import Platform
from device_sim.runner import lab_clock, list_devices

from ..challenge import LabCallFailed
from ..devices import WINDOWS_GROUP, add_devices
from ..home import tls_root_path, trace_path
from .base import Lab, ScenarioFailed, expect, scenario
from .support import ISSUED, folder, profile_id, profile_rows, wait_delivered

CONCURRENCY = 16
SHARES = ((Platform.WINDOWS, 4), (Platform.IOS, 2), (Platform.ANDROID, 3), (Platform.MACOS, 1))
"""How a fleet splits across platforms (tenths)."""
PREFIXES = {Platform.WINDOWS: "FLEET-WIN", Platform.IOS: "FLEET-IPHONE",
            Platform.ANDROID: "FLEET-ANDROID", Platform.MACOS: "FLEET-MAC"}  # fmt: skip
PROFILES = (
    "Lab device certificate (Windows)",
    "Lab user certificate (iOS)",
    "Lab user certificate (macOS)",
    "Lab user certificate (Android work profile)",
)


def split(size: int) -> dict[Platform, int]:
    """`size` devices by platform, by `SHARES` (Windows takes what rounding leaves)."""
    counts = {platform: size * share // 10 for platform, share in SHARES}
    counts[Platform.WINDOWS] += size - sum(counts.values())
    return {platform: count for platform, count in counts.items() if count}


def _add(lab: Lab, size: int) -> set[str]:
    names: set[str] = set()
    with lab.admin() as client:
        for platform, count in split(size).items():
            group = WINDOWS_GROUP if platform is Platform.WINDOWS else None
            names.update(add_devices(client, platform, count, group, PREFIXES[platform]))
    return names


def _run(lab: Lab, names: set[str]) -> tuple[FleetReport, list[ManagedDevice]]:
    tenant = lab.state.tenant
    if tenant is None or tenant.admin_password is None:
        raise ScenarioFailed("lab.json holds no administrator credentials")
    password = tenant.admin_password
    cloud, root, traces = lab.state.url("cloud"), tls_root_path(lab.data), trace_path(lab.data)
    devices: list[ManagedDevice] = []

    async def run() -> FleetReport:
        trust = ssl.create_default_context(cafile=str(root))
        async with httpx.AsyncClient(base_url=cloud, verify=trust, timeout=60) as http:
            token = await sign_in(http, tenant.tenant_id, tenant.admin_upn, password)
            records = [r for r in await list_devices(http, token) if r.name in names]
            clock = await lab_clock(http, token)
            pool = KeyPool()
            await pool.fill(2048, 2 * len(records))  # the MDM identity's and the SCEP key
            lab.say(f"{2 * len(records)} RSA keys made beforehand (the key pool)")
            factory = mtls_factory(cloud, root, trace_dir=traces)
            base = folder()

            def make(record: DeviceRecord) -> ManagedDevice:
                device = ManagedDevice(
                    record.device_id,
                    record.name,
                    record.platform,
                    base / record.device_id,
                    clock,
                    factory,
                    keys=pool,
                    config=DeviceConfig(retry_delay_seconds=2, trace_dir=traces),
                )
                devices.append(device)
                return device

            return await run_fleet(
                records, make_device=make, enroll_http=http, token=token, concurrency=CONCURRENCY
            )

    return asyncio.run(run()), devices


@scenario("fleet", "500 devices (--fleet-size) of every platform: each issued and reported once")
def fleet(lab: Lab) -> str:
    size = lab.fleet_size
    expect(size >= 1, "the fleet needs a device")
    try:
        names = _add(lab, size)
    except LabCallFailed as exc:
        raise ScenarioFailed(f"the devices could not be made: {exc}") from exc
    shares = ", ".join(f"{n} {p.value}" for p, n in split(size).items())
    lab.say(f"{len(names)} new devices ({shares})")
    before, mark = lab.ca_count(), lab.outbox_mark()
    report, devices = _run(lab, names)
    lab.say(f"{report.installed} of {len(report.results)} installed in {report.elapsed:.1f} s")
    if not report.ok:
        why = "; ".join(f"{n} × {reason}" for reason, n in report.failures.most_common(3))
        raise ScenarioFailed(f"{len(report.results) - report.installed} devices failed: {why}")
    serials = Counter(i.certificate.serial_number for d in devices for i in d.installed.values())
    expect(len(serials) == len(names), f"{len(serials)} certificates for {len(names)} devices")
    issued = Counter(
        int(r["serialNumber"], 16)
        for r in lab.ca_requests(before)
        if int(r["disposition"]) == ISSUED
    )
    expect(issued == serials, f"the CA issued {sum(issued.values())} for {len(serials)} devices")
    lab.say(f"the CA issued {len(issued)} certificates, each once, the devices' own")
    delivered = wait_delivered(
        lab,
        mark,
        len(serials),
        "the connector's reports",
        lambda e: e["kind"] == "success" and int(e["certificateSerialNumber"], 16) in serials,
        timeout=60 + len(serials) / 5,
    )
    reported = Counter(int(e["certificateSerialNumber"], 16) for e in delivered)
    expect(reported == serials, "the connector reported some certificates twice or not at all")
    rows = [row for name in PROFILES for row in profile_rows(lab, profile_id(lab, name))]
    shown = Counter(
        int(r["certificateSerialNumber"], 16)
        for r in rows
        if r.get("certificateSerialNumber") and int(r["certificateSerialNumber"], 16) in serials
    )
    expect(shown == serials, f"the cloud shows {sum(shown.values())} rows for {len(serials)}")
    states = Counter(
        r["certificateIssuanceState"]
        for r in rows
        if r.get("certificateSerialNumber") and int(r["certificateSerialNumber"], 16) in serials
    )
    expect(set(states) == {"installed"}, f"the cloud's states: {dict(states)}")
    lab.say(f"the connector delivered {len(reported)} reports; the cloud shows each once")
    return f"{len(serials)} devices, {len(serials)} certificates: issued, reported, shown once each"
