"""The peer's side of `scep-lab bench intune`, and what both sides share: a round's figures and
the pre-generated keys.

The peer is micromdm's `scepserver` with a static challenge, enrolled by the same device code as
the lab's devices (`ManagedDevice.check_in`: CSR, signer, `ScepClient`, GetCACaps, GetCACert,
PKCSReq by GET, the CertRep verified and opened, the certificate checked against its key and
chained to the trusted root, `installed` reported) with the same keys and parallelism. What
differs is the cloud: an in-process stub answers the check-in with one SCEP profile pointing at
scepserver (and takes the reports), so there is no MDM enrolment, no challenge validation and
no notification; and two Windows quirks scepserver cannot take are replaced by RFC 8894's: it
serves `/scep` only (no `/pkiclient.exe` suffix), and it reads a raw `+` in a query as a space
(so the GET's base64 is percent-escaped).
"""

from __future__ import annotations

import asyncio
import base64
import math
import statistics
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from device_sim.cloud import HttpFactory
from device_sim.device import ManagedDevice
from device_sim.keys import FreshKeys, KeyPool
from device_sim.persona import PERSONAS, GetEscaping, Persona, Platform
from device_sim.scep_client import thumbprint
from shared.clock import SystemClock
from shared.pki import KeyUsageName

from .bench_enrol import STATIC_CHALLENGE

CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
USAGE: tuple[KeyUsageName, ...] = ("digital_signature", "key_encipherment")
RETRIES = 1
"""Check-ins more after one whose profile failed: what `run_fleet` gives the lab's devices."""


@dataclass(frozen=True)
class RoundFigures:
    enrolments: int
    issued: int
    """Enrolments that ended with a certificate that passed every check."""
    failed: int
    retried: int
    """Issued after a failed first attempt (included in `issued`; their time in the latency)."""
    duplicate_serials: int
    """Certificates whose serial number the same CA had already issued in this run."""
    seconds: float
    rate: float
    """Issued certificates per second of wall time."""
    p50_ms: float
    p99_ms: float
    failures: tuple[str, ...]
    server_cpu_ms: float = 0.0
    """CPU time the server process spent per issued certificate while timed."""
    driver_cpu_ms: float = 0.0
    """CPU time the driver (the devices) spent per issued certificate while timed."""


def figures(
    latencies: list[float],
    elapsed: float,
    enrolments: int,
    failures: list[str],
    *,
    retried: int,
    duplicates: int,
) -> RoundFigures:
    """A round's figures from the seconds each issued enrolment took (p99: nearest rank)."""
    ordered = sorted(latencies) or [math.nan]
    return RoundFigures(
        enrolments=enrolments,
        issued=len(latencies),
        failed=len(failures),
        retried=retried,
        duplicate_serials=duplicates,
        seconds=elapsed,
        rate=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=1000 * statistics.median(ordered),
        p99_ms=1000 * ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)],
        failures=tuple(failures),
    )


def generate_keys(count: int) -> list[RSAPrivateKey]:
    """`count` RSA-2048 keys, made in worker threads as a device's key pool makes them."""

    async def make() -> list[RSAPrivateKey]:
        pool = KeyPool()
        await pool.fill(2048, count)
        return [await pool.rsa(2048) for _ in range(count)]

    return asyncio.run(make())


class ReusedKeys:
    """The pre-generated keys handed out in turn (a device's `KeySource`); one asked for beyond
    them, or of another size, is generated and counted in `generated`."""

    def __init__(self, keys: list[RSAPrivateKey]) -> None:
        self._keys = list(keys)
        self.generated = 0

    async def rsa(self, bits: int) -> RSAPrivateKey:
        if self._keys and self._keys[-1].key_size == bits:
            return self._keys.pop()
        self.generated += 1
        return await FreshKeys().rsa(bits)


SCEPSERVER_WINDOWS = replace(
    PERSONAS[Platform.WINDOWS], url_suffix="", get_escaping=GetEscaping.FULL
)


class PeerDevice(ManagedDevice):
    """A Windows device whose SCEP client speaks to scepserver: no URL suffix, GET's base64
    percent-escaped."""

    @property
    def persona(self) -> Persona:
        return SCEPSERVER_WINDOWS


def stub_cloud(url: str, ca: x509.Certificate, name: str) -> HttpFactory:
    """The cloud as a peer device sees it, in process: each check-in hands out one SCEP profile
    (scepserver's URL, the static challenge, its CA as the trusted root; a new subject at each
    check-in, as scepserver may have recorded the name of a request it then failed); reports
    are taken and dropped."""
    der = base64.b64encode(ca.public_bytes(serialization.Encoding.DER)).decode()
    check_ins = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal check_ins
        if request.url.path != "/devices/checkin":
            return httpx.Response(204)
        check_ins += 1
        cn = name if check_ins == 1 else f"{name}-{check_ins}"
        profile = {
            "profileId": "scepserver", "displayName": "scepserver", "platform": "windows",
            "certificateType": "device", "keyStorageProvider": "useTpmKspOtherwiseUseSoftwareKsp",
            "renewalThresholdPercentage": 20, "retryCount": 0, "retryDelaySeconds": 1,
            "challenge": STATIC_CHALLENGE, "subjectName": f"CN={cn}",
            "subjectAlternativeNames": [{"type": "dns", "value": f"{cn.lower()}.bench.test"}],
            "extendedKeyUsages": [CLIENT_AUTH], "keyUsage": sorted(USAGE), "keySize": 2048,
            "hashAlgorithm": "sha2", "scepServerUrls": [url], "caThumbprint": thumbprint(ca),
        }  # fmt: skip
        trusted = {"profileId": "scepserver-ca", "displayName": "scepserver CA",
                   "certificate": der, "thumbprint": thumbprint(ca)}  # fmt: skip
        body = {"managementState": "managed", "trustedCertificates": [trusted],
                "scepProfiles": [profile], "removedProfiles": []}  # fmt: skip
        return httpx.Response(200, json=body)

    def build(cert_file: Path, key_file: Path) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url="https://cloud.bench.test", transport=httpx.MockTransport(answer)
        )

    return build


async def peer_round(
    url: str,
    ca: x509.Certificate,
    count: int,
    keys: ReusedKeys,
    parallel: int,
    label: str,
    folder: Path,
    seen: set[int],
    meter: AbstractContextManager[object],
) -> RoundFigures:
    """`count` devices, `parallel` at a time, each checking in until its certificate is
    installed (one retry, as `run_fleet` gives the lab's). Names are new in every round:
    scepserver refuses a second certificate for a name. `seen`: serials issued before."""
    gate = asyncio.Semaphore(parallel)
    latencies: list[float] = []
    failures: list[str] = []
    retried = duplicates = 0

    async def one(number: int) -> None:
        nonlocal retried, duplicates
        name = f"BENCH-{label}-{number:04d}"
        device = PeerDevice(
            name, name, Platform.WINDOWS, folder / name, SystemClock(),
            stub_cloud(url, ca, name), keys=keys,
        )  # fmt: skip
        async with gate:
            started = time.perf_counter()
            check_ins = 0
            try:
                while True:
                    outcomes = await device.check_in()
                    check_ins += 1
                    if all(o.ok for o in outcomes) or check_ins > RETRIES:
                        break
            except (httpx.HTTPError, OSError) as exc:
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                return
            finally:
                await device.aclose()
            if not outcomes or not all(o.state == "installed" for o in outcomes):
                failures.append(f"{name}: " + "; ".join(o.detail or o.state for o in outcomes))
                return
            latencies.append(time.perf_counter() - started)
        retried += check_ins > 1
        serial = device.installed["scepserver"].certificate.serial_number
        duplicates += serial in seen
        seen.add(serial)

    with meter:
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(1, count + 1)))
        elapsed = time.perf_counter() - started
    return figures(latencies, elapsed, count, failures, retried=retried, duplicates=duplicates)
