"""`scep-lab devices`: simulated managed devices of the running lab.

    scep-lab devices add --count 50 --platform windows      # created in the cloud (admin API)
    scep-lab devices enroll --all --key-pool                 # MDM, check-in, SCEP, installed?

`add` creates devices as an administrator would (`POST /beta/deviceManagement/managedDevices`)
with the demo tenant's users as primary users, and puts Windows devices into the group that the
Windows profiles are assigned to (iOS and Android profiles reach devices through their users'
groups). `enroll` runs devices (`device_sim`) concurrently with a progress bar and a summary,
exiting 0 only when every device ended with its certificates installed.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from device_sim.fleet import DeviceResult, FleetReport
from device_sim.persona import Platform
from device_sim.runner import run
from device_sim.settings import DeviceSettings

from .challenge import LabCallFailed, admin_session
from .commands import DataOption
from .home import load_state, tls_root_path, trace_path
from .seed import DEMO_DOMAIN

devices_app = typer.Typer(
    help="Simulated managed devices of the running lab.", no_args_is_help=True
)
console = Console()

# where each platform's profiles reach a new device: a device group, or its user's groups
WINDOWS_GROUP = "Lab Windows devices"
_GROUP = {Platform.WINDOWS: WINDOWS_GROUP}
_USER = {Platform.WINDOWS: "alice", Platform.IOS: "bob", Platform.MACOS: "bob",
         Platform.ANDROID: "alice"}  # fmt: skip
_PREFIX = {Platform.WINDOWS: "FLEET-WIN", Platform.IOS: "FLEET-IPHONE",
           Platform.MACOS: "FLEET-MAC", Platform.ANDROID: "FLEET-ANDROID"}  # fmt: skip
_AD_SUFFIX = "contoso-lab.local"

PlatformOption = Annotated[Platform, typer.Option(help="windows, ios, macos or android.")]


def _new_device(platform: Platform, name: str, upn: str) -> dict[str, object]:
    body: dict[str, object] = {
        "deviceName": name,
        "platform": platform.value,
        "serialNumber": secrets.token_hex(6).upper(),
        "userPrincipalName": upn,
    }
    if platform is Platform.WINDOWS:
        body["fullyQualifiedDomainName"] = f"{name}.{_AD_SUFFIX}"
        body["wiFiMacAddress"] = secrets.token_hex(6).upper()
    elif platform in (Platform.IOS, Platform.ANDROID):
        body["imei"] = "35" + "".join(str(secrets.randbelow(10)) for _ in range(13))
    return body


def add_devices(
    client: httpx.Client, platform: Platform, count: int, group: str | None, prefix: str
) -> list[str]:
    """Create `count` devices; returns their names."""
    upn = f"{_USER[platform]}@{DEMO_DOMAIN}"  # the cloud fills in the user's id and names
    existing = client.get("/beta/deviceManagement/managedDevices").json()["value"]
    group_id = None
    if group is not None:
        found = client.get("/v1.0/groups", params={"$filter": f"displayName eq '{group}'"})
        if found.status_code != 200 or not found.json().get("value"):
            raise LabCallFailed(f"no group named {group!r}")
        group_id = found.json()["value"][0]["id"]
    taken = {d["deviceName"] for d in existing}
    names: list[str] = []
    number = 1
    while len(names) < count:
        name = f"{prefix}-{number:04d}"
        number += 1
        if name in taken:
            continue
        made = client.post(
            "/beta/deviceManagement/managedDevices", json=_new_device(platform, name, upn)
        )
        if made.status_code != 201:
            raise LabCallFailed(f"creating {name}: HTTP {made.status_code} {made.text[:200]}")
        if group_id is not None:
            ref = {
                "@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{made.json()['id']}"
            }
            added = client.post(f"/v1.0/groups/{group_id}/members/$ref", json=ref)
            if added.status_code != 204:
                raise LabCallFailed(f"adding {name} to {group}: HTTP {added.status_code}")
        names.append(name)
    return names


@devices_app.command("add")
def add(
    data: DataOption,
    platform: PlatformOption = Platform.WINDOWS,
    count: Annotated[int, typer.Option(min=1, max=5000, help="How many devices.")] = 1,
    group: Annotated[
        str | None,
        typer.Option(
            help="Add them to this group (default: Windows devices to the group the "
            "Windows profiles are assigned to)."
        ),
    ] = None,
    prefix: Annotated[str | None, typer.Option(help="Device names: PREFIX-0001...")] = None,
) -> None:
    """Create devices in the cloud, as an administrator would."""
    state = load_state(data)
    if state is None:
        console.print(f"no lab in {data}: run `scep-lab up` first")
        raise typer.Exit(2)
    try:
        with admin_session(data, state) as client:
            names = add_devices(
                client, platform, count, group or _GROUP.get(platform), prefix or _PREFIX[platform]
            )
    except (LabCallFailed, httpx.HTTPError) as exc:
        console.print(f"[red]scep-lab devices add: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"created {len(names)} {platform.value} devices: {names[0]} … {names[-1]}")


@devices_app.command("enroll")
def enroll(
    data: DataOption,
    names: Annotated[list[str] | None, typer.Argument(help="Device names.")] = None,
    all_devices: Annotated[bool, typer.Option("--all", help="Every device of the tenant.")] = False,
    platform: Annotated[Platform | None, typer.Option(help="Only this platform's.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=512)] = 16,
    key_pool: Annotated[
        bool, typer.Option(help="Generate every key first: timing leaves key generation out.")
    ] = False,
) -> None:
    """Enrol devices (MDM), check them in and run their SCEP profiles, concurrently."""
    state = load_state(data)
    if state is None or state.tenant is None or state.tenant.admin_password is None:
        console.print(f"no lab with administrator credentials in {data}: run `scep-lab up`")
        raise typer.Exit(2)
    if not names and not all_devices and platform is None:
        console.print("name devices, or pass --all or --platform")
        raise typer.Exit(2)
    settings = DeviceSettings(
        cloud_url=state.url("cloud"),
        cloud_ca_path=tls_root_path(data),
        data_dir=data / "devices",
        tenant=state.tenant.tenant_id,
        upn=state.tenant.admin_upn,
        password=state.tenant.admin_password,  # type: ignore[arg-type]
        concurrency=concurrency,
        retry_delay_seconds=2.0,
        key_pool=key_pool,
        trace_dir=trace_path(data),
    )
    with Progress(
        TextColumn("devices"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    ) as progress:  # fmt: skip
        task = progress.add_task("devices", total=None)

        def started(total: int) -> None:
            progress.update(task, total=total)

        def done(_: DeviceResult) -> None:
            progress.advance(task)

        try:
            report = asyncio.run(
                run(settings, names or None, platform=platform, on_start=started, on_done=done)
            )
        except Exception as exc:
            progress.stop()
            console.print(f"[red]scep-lab devices enroll: {exc}[/red]")
            raise typer.Exit(1) from exc
    console.print(summary(report))
    raise typer.Exit(0 if report.ok else 1)


def summary(report: FleetReport) -> Table:
    table = Table(title="devices", show_header=False)
    table.add_row("installed", f"{report.installed} of {len(report.results)}")
    table.add_row("time", f"{report.elapsed:.1f} s")
    table.add_row("rate", f"{report.rate:.1f} devices/s")
    if report.retried:
        table.add_row("checked in again", f"{report.retried} (a profile failed the first time)")
    durations = sorted(r.seconds for r in report.results)
    if durations:
        table.add_row("per device (median)", f"{durations[len(durations) // 2]:.2f} s")
    for why, count in report.failures.most_common():
        table.add_row("[red]failed[/red]", f"{count} × {why}")
    return table
