"""Simulated devices against the real chain (cloud, connector, NDES over HTTP and HTTPS, CA as
processes on loopback): each persona enrols with its quirks and reports `installed`; renewal at
the threshold after moving the device's clock; removal when retired."""

from __future__ import annotations

import datetime as dt
import os
import re
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from device_sim.cloud import mtls_factory
from device_sim.device import DeviceConfig, ManagedDevice
from device_sim.persona import Platform
from lab.challenge import find_id
from lab.home import tls_root_path
from shared.clock import OffsetClock
from shared.pki import LabCert
from tests.support.labproc import scep_lab

from .intune_support import Chain, start_chain, wait_for

pytestmark = pytest.mark.e2e

SEEDED = {
    Platform.WINDOWS: "LAB-LAPTOP-01",
    Platform.IOS: "LAB-IPHONE-01",
    Platform.MACOS: "LAB-MAC-01",
    Platform.ANDROID: "LAB-PIXEL-01",
}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    started = start_chain(tmp_path_factory.mktemp("devices") / "lab")
    try:
        yield started
    finally:
        started.stop_all()


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The real network, every request's method and raw URL kept."""

    def __init__(self, verify: ssl.SSLContext) -> None:
        super().__init__(verify=verify)
        self.seen: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url)))
        return await super().handle_async_request(request)


@pytest.fixture
async def admin_http(chain: Chain) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    with chain.admin() as client:
        token = client.headers["Authorization"].split()[1]
    trust = ssl.create_default_context(cafile=str(tls_root_path(chain.data)))
    async with httpx.AsyncClient(base_url=chain.state.url("cloud"), verify=trust) as http:
        yield http, token


def make_device(
    chain: Chain,
    platform: Platform,
    folder: Path,
    clock: OffsetClock | None = None,
    name: str | None = None,
) -> tuple[ManagedDevice, RecordingTransport]:
    name = name or SEEDED[platform]
    with chain.admin() as client:
        device_id = find_id(client, name, "device")
    recorder = RecordingTransport(
        ssl.create_default_context(cafile=str(chain.pki.path(LabCert.ROOT_CA)))
    )
    device = ManagedDevice(
        device_id,
        name,
        platform,
        folder,
        clock or OffsetClock(),
        mtls_factory(chain.state.url("cloud"), tls_root_path(chain.data)),
        config=DeviceConfig(retry_delay_seconds=1, seed=7),
        scep_transport=recorder,
    )
    return device, recorder


def reported(chain: Chain, name: str, serial: str) -> dict[str, object] | None:
    for state in chain.certificate_states(name):
        if (state.get("certificateSerialNumber") or "").lower() == serial:
            return state
    return None


@pytest.mark.parametrize("platform", list(SEEDED))
async def test_each_persona_enrols_and_reports_installed(
    chain: Chain, admin_http: tuple[httpx.AsyncClient, str], platform: Platform, tmp_path: Path
) -> None:
    http, token = admin_http
    device, recorder = make_device(chain, platform, tmp_path)
    await device.enroll(http, token)
    try:
        [outcome] = await device.check_in()
    finally:
        await device.aclose()

    assert outcome.state == "installed", outcome
    [installed] = device.installed.values()
    state = wait_for(
        "the installed report",
        lambda: (
            (s := reported(chain, SEEDED[platform], installed.serial))
            and s["certificateIssuanceState"] == "installed"
            and s
        ),
    )
    assert state["certificateKeyLength"] == installed.key.bits
    # Windows and Apple build the path to the installed root; Android stops at the first
    # installed CA certificate (the issuing CA's trusted profile)
    anchor = LabCert.ISSUING_CA if platform is Platform.ANDROID else LabCert.ROOT_CA
    assert installed.chain[-1] == chain.pki.cert(anchor)
    operations = [(m, httpx.URL(u)) for m, u in recorder.seen]
    pki = [(m, u) for m, u in operations if u.params.get("operation") == "PKIOperation"]
    [(method, url)] = pki
    raw_query = url.query.decode()
    if platform is Platform.WINDOWS:
        assert all(u.path.endswith("/mscep.dll/pkiclient.exe") for _, u in operations)
        assert operations[0][1].params["message"] == "default"
        assert method == "GET" and "+" in raw_query  # base64 as it is, '+' unescaped
    elif platform in (Platform.IOS, Platform.MACOS):
        label = "iOS" if platform is Platform.IOS else "macOS"
        assert operations[0][1].params["message"] == f"Lab user certificate ({label})"
        assert method == "GET" and "%2B" in raw_query and "%3D" not in raw_query
    else:
        assert all(u.scheme == "https" for _, u in operations)
        assert operations[0][1].params["message"] == "ca"
        assert method == "POST"
        ids = re.findall(r"4003 ScepRequestReceived: transaction '([^']+)'", chain.log("connector"))
        assert re.fullmatch(r"[0-9A-F]{40}", ids[-1])


async def test_renewal_at_the_threshold_after_moving_the_clock(
    chain: Chain, admin_http: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    """Windows renews with a PKCSReq signed by its certificate, without a challenge."""
    http, token = admin_http
    clock = OffsetClock()
    device, _ = make_device(chain, Platform.WINDOWS, tmp_path, clock)
    await device.enroll(http, token)
    try:
        [first] = await device.check_in()
        [old] = device.installed.values()
        [kept] = await device.check_in()  # not due yet
        left = old.certificate.not_valid_after_utc - clock.now()
        clock.advance(left - dt.timedelta(days=30))  # 30 days left of 365: inside 20 %
        [renewed] = await device.check_in()
    finally:
        await device.aclose()

    assert (first.state, kept.state, renewed.state) == ("installed", "kept", "renewed")
    [new] = device.installed.values()
    assert new.serial != old.serial
    assert new.key.private.public_key() != old.key.private.public_key()
    assert new.certificate.subject == old.certificate.subject
    state = wait_for(
        "the renewal's report",
        lambda: (
            (s := reported(chain, SEEDED[Platform.WINDOWS], new.serial))
            and s["certificateIssuanceState"] == "installed"
            and s
        ),
    )
    assert state["certificateThumbprint"]


def test_python_m_device_sim_runs_devices_against_the_cloud(chain: Chain, tmp_path: Path) -> None:
    """The devices alone, as a container would run them: settings from DEVICE_* only."""
    tenant = chain.state.tenant
    assert tenant is not None and tenant.admin_password is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVICE_")} | {
        "DEVICE_CLOUD_URL": chain.state.url("cloud"),
        "DEVICE_CLOUD_CA_PATH": str(tls_root_path(chain.data)),
        "DEVICE_DATA_DIR": str(tmp_path / "devices"),
        "DEVICE_TENANT": tenant.domain,
        "DEVICE_UPN": tenant.admin_upn,
        "DEVICE_PASSWORD": tenant.admin_password,
        "DEVICE_RETRY_DELAY_SECONDS": "1",
    }
    run = subprocess.run(
        [sys.executable, "-m", "device_sim", SEEDED[Platform.WINDOWS], SEEDED[Platform.IOS]],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2/2 installed" in run.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "device_sim", "NO-SUCH-DEVICE"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert unknown.returncode == 1 and "NO-SUCH-DEVICE" in unknown.stderr
    no_settings = subprocess.run(
        [sys.executable, "-m", "device_sim", "--all"],
        env={k: v for k, v in env.items() if k != "DEVICE_TENANT"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert no_settings.returncode == 2 and "DEVICE_" in no_settings.stderr


FLEET = {Platform.WINDOWS: 60, Platform.IOS: 20, Platform.ANDROID: 20}


def test_a_fleet_of_100_enrols_with_every_certificate_issued_installed_and_reported_once(
    chain: Chain,
) -> None:
    names: list[str] = []
    for platform, count in FLEET.items():
        prefix = f"E2E-{platform.value.upper()}"
        added = scep_lab(
            "devices", "add", "--data", chain.data, "--platform", platform.value,
            "--count", str(count), "--prefix", prefix, timeout=300,
        )  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
        names += [f"{prefix}-{n:04d}" for n in range(1, count + 1)]
    issued_before = chain.ca_request_count()

    enrolled = scep_lab(
        "devices", "enroll", "--data", chain.data, "--key-pool", "--concurrency", "16", *names,
        timeout=900,
    )  # fmt: skip

    assert enrolled.returncode == 0, enrolled.stdout[-3000:] + enrolled.stderr[-3000:]
    assert f"{len(names)} of {len(names)}" in enrolled.stdout
    assert chain.ca_request_count() - issued_before == len(names)  # one certificate each
    with chain.admin() as client:
        profiles = client.get("/beta/deviceManagement/deviceConfigurations").json()["value"]
        rows = [
            row
            for profile in profiles
            if "SCEP" in profile["@odata.type"] or "Scep" in profile["@odata.type"]
            for row in client.get(
                f"/beta/deviceManagement/deviceConfigurations/{profile['id']}"
                "/managedDeviceCertificateStates"
            ).json()["value"]
            if row["deviceDisplayName"] in set(names)
        ]
    by_device: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_device.setdefault(str(row["deviceDisplayName"]), []).append(row)
    assert sorted(by_device) == sorted(names)
    assert all(len(found) == 1 for found in by_device.values())  # reported once
    assert {row["certificateIssuanceState"] for row in rows} == {"installed"}
    serials = [row["certificateSerialNumber"] for row in rows]
    assert len(set(serials)) == len(names) and all(serials)


async def test_a_retired_or_untargeted_device_deletes_its_certificates(
    chain: Chain, admin_http: tuple[httpx.AsyncClient, str], tmp_path: Path
) -> None:
    http, token = admin_http
    added = scep_lab(
        "devices", "add", "--data", chain.data, "--count", "2", "--prefix", "LEAVING"
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    retired, _ = make_device(chain, Platform.WINDOWS, tmp_path / "a", name="LEAVING-0001")
    moved, _ = make_device(chain, Platform.WINDOWS, tmp_path / "b", name="LEAVING-0002")
    for device in (retired, moved):
        await device.enroll(http, token)
        [outcome] = await device.check_in()
        assert outcome.state == "installed", outcome
    [old] = retired.installed.values()
    with chain.admin() as client:
        base = "/beta/deviceManagement/managedDevices"
        assert client.post(f"{base}/{retired.device_id}/retire").status_code == 204
        group = client.get(
            "/v1.0/groups", params={"$filter": "displayName eq 'Lab Windows devices'"}
        ).json()["value"][0]["id"]
        removed = client.delete(f"/v1.0/groups/{group}/members/{moved.device_id}/$ref")
        assert removed.status_code == 204, removed.text

    try:
        gone = await retired.check_in()
        untargeted = await moved.check_in()
    finally:
        await retired.aclose()
        await moved.aclose()

    assert [o.state for o in gone] == ["deleted"] and not retired.installed
    assert not retired.trusted and retired.management_state == "retirePending"
    assert [o.state for o in untargeted] == ["deleted"] and not moved.installed
    wait_for("the CRL", lambda: old.certificate.serial_number in chain.crl_serials())
    wait_for(
        "the cloud's revoke status",
        lambda: (
            (s := reported(chain, "LEAVING-0001", old.serial))
            and s["certificateRevokeStatus"] == "revoked"
        ),
    )
