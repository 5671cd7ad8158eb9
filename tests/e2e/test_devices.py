"""Simulated devices against the real chain (cloud, connector, NDES over HTTP and HTTPS, CA as
processes on loopback): each persona enrols with its quirks and reports `installed`; renewal at
the threshold after moving the device's clock; removal when retired."""

from __future__ import annotations

import datetime as dt
import re
import ssl
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

from .intune_support import Chain, start_chain, wait_for

pytestmark = pytest.mark.e2e

SEEDED = {
    Platform.WINDOWS: "LAB-LAPTOP-01",
    Platform.IOS: "LAB-IPHONE-01",
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
    chain: Chain, platform: Platform, folder: Path, clock: OffsetClock | None = None
) -> tuple[ManagedDevice, RecordingTransport]:
    name = SEEDED[platform]
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
    elif platform is Platform.IOS:
        assert operations[0][1].params["message"] == "Lab user certificate (iOS)"
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
