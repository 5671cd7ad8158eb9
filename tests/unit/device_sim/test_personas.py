"""The personas' refusals and quirks, with the cloud and NDES played by httpx.MockTransport: what
a device sends (URL suffix, message=, GET escaping, transaction IDs), and the profiles it refuses
as the real platform does — each refusal reported to the cloud with its state and HRESULT."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from device_sim.device import ManagedDevice
from device_sim.persona import PERSONAS, GetEscaping, Platform
from device_sim.scep_client import (
    NTE_BAD_ALGID,
    DeviceFailure,
    escape_message,
    negotiate,
    transaction_id,
)
from shared import scep
from shared.clock import FixedClock
from shared.pki import KeySpec, generate_key

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
C = scep.Capability


def _profile(**changes: Any) -> dict[str, Any]:
    profile = {
        "profileId": "p-1",
        "displayName": "Lab SCEP",
        "challenge": "Q0hBTExFTkdF",
        "subjectName": "CN=DEVICE-1",
        "subjectAlternativeNames": [{"type": "dns", "value": "device-1.lab.test"}],
        "extendedKeyUsages": ["1.3.6.1.5.5.7.3.2"],
        "keyUsage": ["digital_signature", "key_encipherment"],
        "keySize": 2048,
        "scepServerUrls": ["https://ndes.lab.test/certsrv/mscep/mscep.dll"],
        "caThumbprint": "",
        "renewalThresholdPercentage": 20,
        "certificateType": "device",
    }
    return profile | changes


class Recorder:
    """The cloud (check-in answers `profile`; status reports recorded) and NDES (GetCACaps
    answers `caps`; anything else 500)."""

    def __init__(self, profile: dict[str, Any], caps: str) -> None:
        self.profile, self.caps = profile, caps
        self.reports: list[dict[str, Any]] = []
        self.scep_urls: list[str] = []

    def cloud(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/devices/checkin":
            return httpx.Response(
                200,
                json={"deviceId": "d-1", "trustedCertificates": [], "scepProfiles": [self.profile]},
            )
        self.reports.append(json.loads(request.content))
        return httpx.Response(204)

    def ndes(self, request: httpx.Request) -> httpx.Response:
        self.scep_urls.append(str(request.url))
        if request.url.params.get("operation") == "GetCACaps":
            return httpx.Response(200, text=self.caps)
        return httpx.Response(500)


def _device(platform: Platform, recorder: Recorder, tmp_path: Path) -> ManagedDevice:
    return ManagedDevice(
        "d-1",
        "DEVICE-1",
        platform,
        tmp_path,
        FixedClock(NOW),
        cloud_http=lambda _c, _k: httpx.AsyncClient(
            transport=httpx.MockTransport(recorder.cloud), base_url="https://cloud.test"
        ),
        scep_transport=httpx.MockTransport(recorder.ndes),
    )


async def test_ios_refuses_a_ca_whose_caps_name_no_sha(tmp_path: Path) -> None:
    recorder = Recorder(_profile(), caps="POSTPKIOperation\nDES3\n")
    device = _device(Platform.IOS, recorder, tmp_path)
    [outcome] = await device.check_in()
    assert outcome.state == "requestSubmitFailed" and outcome.hresult == NTE_BAD_ALGID
    # it never got past GetCACaps: GetCACert would have been the next call
    assert [r["state"] for r in recorder.reports] == ["requestSubmitFailed"]
    assert recorder.reports[0]["hResult"] == NTE_BAD_ALGID - 2**32


async def test_android_refuses_a_device_certificate_without_a_san(tmp_path: Path) -> None:
    recorder = Recorder(_profile(subjectAlternativeNames=[]), caps="SHA-256\nAES\n")
    device = _device(Platform.ANDROID, recorder, tmp_path)
    [outcome] = await device.check_in()
    assert outcome.state == "requestCreationFailed"
    assert recorder.scep_urls == []  # refused before any request
    assert recorder.reports[0]["state"] == "requestCreationFailed"


async def test_android_refuses_plain_http(tmp_path: Path) -> None:
    profile = _profile(scepServerUrls=["http://ndes.lab.test/certsrv/mscep/mscep.dll"])
    recorder = Recorder(profile, caps="SHA-256\nAES\n")
    [outcome] = await _device(Platform.ANDROID, recorder, tmp_path).check_in()
    assert outcome.state == "requestSubmitFailed"
    assert recorder.scep_urls == []


async def test_android_picks_one_url_and_keeps_it(tmp_path: Path) -> None:
    urls = [f"https://ndes{n}.lab.test/certsrv/mscep/mscep.dll" for n in range(5)]
    recorder = Recorder(_profile(scepServerUrls=urls), caps="SHA-256\nAES\n")
    device = _device(Platform.ANDROID, recorder, tmp_path)
    for _ in range(3):
        await device.check_in()
    hosts = {httpx.URL(url).host for url in recorder.scep_urls}
    assert len(hosts) == 1


@pytest.mark.parametrize(
    ("platform", "suffix", "message"),
    [
        (Platform.WINDOWS, "/mscep.dll/pkiclient.exe", "default"),
        (Platform.IOS, "/mscep.dll", "Lab SCEP"),
        (Platform.ANDROID, "/mscep.dll", "ca"),
    ],
)
async def test_the_url_and_message_each_persona_sends(
    tmp_path: Path, platform: Platform, suffix: str, message: str
) -> None:
    recorder = Recorder(_profile(), caps="")  # no caps: iOS stops there, the others go on
    await _device(platform, recorder, tmp_path).check_in()
    first = httpx.URL(recorder.scep_urls[0])
    assert first.path.endswith(suffix)
    assert first.params["operation"] == "GetCACaps"
    assert first.params["message"] == message


def test_negotiation_takes_the_strongest_common_algorithms() -> None:
    windows, ios = PERSONAS[Platform.WINDOWS], PERSONAS[Platform.IOS]
    ndes = frozenset({C.POST_PKI_OPERATION, C.RENEWAL, C.SHA512, C.SHA256, C.SHA1, C.DES3})
    got = negotiate(windows, ndes)
    assert (got.cipher, got.digest, got.method) == (
        scep.ContentCipher.DES_EDE3_CBC,
        scep.Digest.SHA512,
        "get",  # Windows sends GET even where POST is allowed
    )
    assert negotiate(PERSONAS[Platform.ANDROID], ndes | {C.AES}).method == "post"
    assert negotiate(PERSONAS[Platform.ANDROID], frozenset({C.AES})).method == "get"
    with pytest.raises(DeviceFailure):
        negotiate(ios, frozenset({C.POST_PKI_OPERATION}))  # neither SHA nor AES/DES3


def test_get_escaping_styles() -> None:
    body = bytes([0xFB, 0xEF, 0xFF, 0x01])  # base64 "++//AQ==": every reserved character
    assert escape_message(body, GetEscaping.NONE) == "++//AQ=="
    assert escape_message(body, GetEscaping.HALF) == "%2B%2B%2F%2FAQ=="
    assert escape_message(body, GetEscaping.FULL) == "%2B%2B%2F%2FAQ%3D%3D"
    assert base64.b64decode("++//AQ==") == body


def test_android_transaction_ids_are_40_hex_sha1_of_the_key() -> None:
    key = generate_key(KeySpec.rsa(2048))
    assert isinstance(key, rsa.RSAPrivateKey)
    android = transaction_id(PERSONAS[Platform.ANDROID], key.public_key())
    assert len(android) == 40 and int(android, 16) >= 0
    assert android == transaction_id(PERSONAS[Platform.ANDROID], key.public_key())
    windows = transaction_id(PERSONAS[Platform.WINDOWS], key.public_key())
    assert windows != transaction_id(PERSONAS[Platform.WINDOWS], key.public_key())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert der  # the ID is a function of this


async def test_a_device_checks_in_on_a_schedule_until_stopped(tmp_path: Path) -> None:
    recorder = Recorder(_profile(), caps="SHA-256\nAES\n")
    calls: list[str] = []
    original = recorder.cloud

    def counting(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return original(request)

    recorder.cloud = counting  # type: ignore[method-assign]
    device = _device(Platform.WINDOWS, recorder, tmp_path)
    stop = asyncio.Event()
    runner = asyncio.create_task(device.run(stop, interval=0.05))
    for _ in range(200):
        if calls.count("/devices/checkin") >= 3:
            break
        await asyncio.sleep(0.01)
    stop.set()
    made = await asyncio.wait_for(runner, timeout=5)
    assert made >= 3 and calls.count("/devices/checkin") == made
