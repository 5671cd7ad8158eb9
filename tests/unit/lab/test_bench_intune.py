"""The pieces of `scep-lab bench intune` that decide its figures: a round's rate and percentiles,
peak memory summed over a process and its children, the pre-generated keys, and the peer's
persona and stub cloud."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from device_sim.persona import GetEscaping, Platform
from lab.bench_intune import cpu_seconds, peak_memory_kib
from lab.bench_peer import PeerDevice, ReusedKeys, figures, generate_keys, stub_cloud
from shared.clock import SystemClock
from tests.support.testpki import make_ra_setup


def test_a_round_s_figures() -> None:
    latencies = [float(n) for n in range(100, 0, -1)]  # 1 s … 100 s, unordered

    got = figures(latencies, 50.0, 102, ["a: refused", "b: refused"], retried=3, duplicates=1)

    assert (got.enrolments, got.issued, got.failed, got.retried) == (102, 100, 2, 3)
    assert got.rate == 2.0  # issued per second, failures not counted
    assert got.p50_ms == 50_500
    assert got.p99_ms == 99_000  # nearest rank: the 99th of 100
    assert got.duplicate_serials == 1
    assert got.failures == ("a: refused", "b: refused")


def test_a_round_with_nothing_issued_has_no_latency() -> None:
    got = figures([], 2.0, 3, ["x", "y", "z"], retried=0, duplicates=0)

    assert got.rate == 0.0
    assert math.isnan(got.p50_ms) and math.isnan(got.p99_ms)


def test_peak_memory_sums_the_process_and_its_children() -> None:
    grab = "b = bytearray(96 << 20); import time; time.sleep(30)"  # 96 MiB, touched
    parent = subprocess.Popen(
        ["sh", "-c", f"{sys.executable} -c '{grab}' & wait"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while peak_memory_kib(parent.pid) < 96 * 1024 and time.monotonic() < deadline:
            time.sleep(0.1)
        own = Path(f"/proc/{parent.pid}/status").read_text()
        shell = next(int(x.split()[1]) for x in own.splitlines() if x.startswith("VmHWM:"))
        assert shell < 16 * 1024  # the shell alone is small: the child's memory is counted
        assert peak_memory_kib(parent.pid) >= 96 * 1024
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the shell and its child
        parent.wait()
    assert peak_memory_kib(parent.pid) == 0  # gone


@pytest.fixture(scope="module")
def keys() -> list[RSAPrivateKey]:
    return generate_keys(2)


def test_cpu_seconds_count_a_child_that_has_ended() -> None:
    burn = "import time; t = time.process_time() + 0.6\nwhile time.process_time() < t: pass"
    shell = subprocess.Popen(
        ["sh", "-c", f'{sys.executable} -c "{burn}"; sleep 30'], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(shell.pid) < 0.6 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cpu_seconds(shell.pid) >= 0.6  # the child's time, in the shell's cutime
    finally:
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()


async def test_the_pre_generated_keys_are_handed_out_then_made_and_counted(
    keys: list[RSAPrivateKey],
) -> None:
    source = ReusedKeys(keys)

    first, second = await source.rsa(2048), await source.rsa(2048)
    assert {id(first), id(second)} == {id(k) for k in keys}
    assert source.generated == 0
    extra = await source.rsa(2048)
    assert extra not in keys and source.generated == 1
    assert len(keys) == 2  # the caller's list is left as it was: every round reuses it


async def test_the_peer_device_gets_one_profile_per_check_in_with_a_new_name(
    tmp_path: Path,
) -> None:
    ca = make_ra_setup().ca_cert
    cloud = stub_cloud("http://127.0.0.1:1/scep", ca, "BENCH-R0-0001")
    device = PeerDevice("d", "BENCH-R0-0001", Platform.WINDOWS, tmp_path, SystemClock(), cloud)
    # Windows but for what scepserver cannot take: /pkiclient.exe, a raw "+" in a query
    assert device.persona.url_suffix == ""
    assert device.persona.get_escaping is GetEscaping.FULL
    async with cloud(tmp_path / "c", tmp_path / "k") as http:
        first = (await http.post("/devices/checkin")).json()
        second = (await http.post("/devices/checkin")).json()
        report = await http.post("/devices/status", json={"state": "installed"})
    [profile] = first["scepProfiles"]
    assert profile["subjectName"] == "CN=BENCH-R0-0001"
    assert second["scepProfiles"][0]["subjectName"] == "CN=BENCH-R0-0001-2"
    assert profile["scepServerUrls"] == ["http://127.0.0.1:1/scep"]
    assert first["trustedCertificates"][0]["thumbprint"] == profile["caThumbprint"]
    assert report.status_code == 204


def test_generate_keys_makes_distinct_rsa_2048_keys() -> None:
    keys = generate_keys(3)
    assert [k.key_size for k in keys] == [2048] * 3
    assert len({k.public_key().public_numbers().n for k in keys}) == 3
