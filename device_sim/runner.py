"""Running devices of a tenant by name: sign in, list the tenant's managed devices through the
admin API, and run the chosen ones as a fleet. Used by `python -m device_sim` and the lab's
`scep-lab devices enroll`."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Callable

import httpx

from shared.clock import Clock, OffsetClock, SystemClock

from .cloud import CloudRefused, mtls_factory, sign_in
from .device import DeviceConfig, ManagedDevice
from .fleet import DeviceRecord, DeviceResult, FleetReport, run_fleet
from .keys import FreshKeys, KeyPool, KeySource
from .persona import Platform
from .settings import DeviceSettings

_PLATFORMS = {"windows": Platform.WINDOWS, "ios": Platform.IOS, "macos": Platform.MACOS,
              "android": Platform.ANDROID}  # fmt: skip


async def list_devices(http: httpx.AsyncClient, token: str) -> list[DeviceRecord]:
    """Every managed device of the tenant the admin API shows (Graph paging followed)."""
    records: list[DeviceRecord] = []
    url: str | None = "/beta/deviceManagement/managedDevices"
    while url:
        response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise CloudRefused(f"listing devices: {response.text[:200]}", response.status_code)
        body = response.json()
        for device in body["value"]:
            platform = _PLATFORMS.get(str(device.get("operatingSystem", "")).lower())
            if platform is not None:
                records.append(DeviceRecord(device["id"], device["deviceName"], platform))
        url = body.get("@odata.nextLink")
    return records


async def run(
    settings: DeviceSettings,
    names: list[str] | None,
    *,
    platform: Platform | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[DeviceResult], None] | None = None,
) -> FleetReport:
    """Sign in, find the devices (`names`, or all of the tenant's; of one `platform` if given),
    and run them as a fleet. `on_start` gets how many devices will run."""
    trust = ssl.create_default_context(cafile=str(settings.cloud_ca_path))
    keys: KeySource = FreshKeys()
    async with httpx.AsyncClient(base_url=settings.cloud_url, verify=trust, timeout=60) as http:
        token = await sign_in(
            http, settings.tenant, settings.upn, settings.password.get_secret_value()
        )
        known = await list_devices(http, token)
        chosen = known if names is None else [r for r in known if r.name in set(names)]
        missing = set(names or ()) - {r.name for r in chosen}
        if platform is not None:
            chosen = [r for r in chosen if r.platform is platform]
        if missing:
            raise CloudRefused(f"no managed device named {', '.join(sorted(missing))}", 404)
        clock = await lab_clock(http, token)
        if settings.key_pool:
            pool = KeyPool()
            await pool.fill(2048, 2 * len(chosen))
            keys = pool
        factory = mtls_factory(
            settings.cloud_url, settings.cloud_ca_path, trace_dir=settings.trace_dir
        )

        def make(record: DeviceRecord) -> ManagedDevice:
            return ManagedDevice(
                record.device_id,
                record.name,
                record.platform,
                settings.data_dir / record.device_id,
                clock,
                factory,
                keys=keys,
                config=DeviceConfig(
                    retry_delay_seconds=settings.retry_delay_seconds, trace_dir=settings.trace_dir
                ),
            )

        if on_start is not None:
            on_start(len(chosen))
        return await run_fleet(
            chosen, make_device=make, enroll_http=http, token=token,
            concurrency=settings.concurrency, on_done=on_done,
        )  # fmt: skip


async def lab_clock(http: httpx.AsyncClient, token: str) -> Clock:
    """The lab's virtual clock when the cloud has one (`/lab/clock`), so that devices see the
    time the other parties see; the system clock otherwise."""
    try:
        answer = await http.get("/lab/clock", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return SystemClock()
    offset = answer.json().get("offsetSeconds") if answer.status_code == 200 else None
    if not offset:
        return SystemClock()
    return OffsetClock(dt.timedelta(seconds=float(offset)))
