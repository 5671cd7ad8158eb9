"""`scep-lab bench ndes`: enrolments per second against this NDES in one-time-password mode and,
in the same run, against micromdm's scepserver with a static challenge, under one driver.

Both servers run as their own processes on loopback; the driver (lab/driver.py, built on the
codec) runs here with device keys generated before timing starts. An NDES enrolment includes
fetching its one-time password from the admin page, as the general SCEP workflow requires; the
peer's challenge is static. Rounds alternate between the two servers; medians are reported.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from shared import scep
from shared.pki import KeySpec, generate_key

from .driver import EnrolmentFailed, enrol, fetch_ca_info
from .home import load_state
from .ndes_admin import password_on_page
from .procs import lab_process, scepserver_process

STATIC_CHALLENGE = "bench-static-challenge"


@dataclass(frozen=True)
class RunFigures:
    rate: float
    """Successful enrolments per second of wall time."""
    p50_ms: float
    p99_ms: float
    failed: int
    first_failure: str | None


def _keys(n: int) -> list[rsa.RSAPrivateKey]:
    keys = []
    for _ in range(n):
        key = generate_key(KeySpec("rsa", 2048))
        assert isinstance(key, rsa.RSAPrivateKey)
        keys.append(key)
    return keys


async def _run(
    url: str,
    keys: list[rsa.RSAPrivateKey],
    parallel: int,
    challenge: Callable[[httpx.AsyncClient], Awaitable[str | None]],
    label: str,
) -> RunFigures:
    latencies: list[float] = []
    failures: list[str] = []
    async with httpx.AsyncClient(timeout=60) as client:
        ca = await fetch_ca_info(client, url)
        queue = list(enumerate(keys))

        async def worker() -> None:
            while queue:
                i, key = queue.pop()
                subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench-{label}-{i}")])
                start = time.perf_counter()
                try:
                    await enrol(client, url, ca, key, subject, lambda: challenge(client))
                except (EnrolmentFailed, scep.ScepError, httpx.HTTPError) as exc:
                    failures.append(f"{subject.rfc4514_string()}: {exc}")
                    continue
                latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(parallel)))
        elapsed = time.perf_counter() - start
    latencies.sort() if latencies else latencies.append(float("nan"))
    return RunFigures(
        rate=(len(keys) - len(failures)) / elapsed,
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        failed=len(failures),
        first_failure=failures[0] if failures else None,
    )


def measure(*, enrolments: int, parallel: int, rounds: int) -> dict[str, list[RunFigures]]:
    keys = _keys(enrolments)
    results: dict[str, list[RunFigures]] = {"ndes-otp": [], "scepserver": []}
    with tempfile.TemporaryDirectory(prefix="scep-lab-bench-") as tmp:
        data = Path(tmp) / "lab"
        with (
            lab_process(data) as ndes_url,
            scepserver_process(Path(tmp) / "peer", STATIC_CHALLENGE) as peer_url,
        ):
            state = load_state(data)
            assert state is not None
            admin = f"{state.url('ndes')}/certsrv/mscep_admin/"
            auth = (state.ndes_admin_user, state.ndes_admin_password)

            async def otp(client: httpx.AsyncClient) -> str | None:
                page = await client.get(admin, auth=auth)
                password = password_on_page(page.content)
                if password is None:
                    raise RuntimeError("no password on NDES's admin page")
                return password

            async def static(_: httpx.AsyncClient) -> str | None:
                return STATIC_CHALLENGE

            # a fresh subject per round: scepserver refuses a second certificate for a name
            for n in range(rounds):
                results["ndes-otp"].append(
                    asyncio.run(_run(ndes_url, keys, parallel, otp, f"r{n}"))
                )
                results["scepserver"].append(
                    asyncio.run(_run(peer_url, keys, parallel, static, f"r{n}"))
                )
    return results


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
