"""Many devices at once: each enrols with the cloud (MDM), checks in and runs its SCEP profiles,
`concurrency` at a time; the report counts what each ended with. A device whose profile failed
checks in again (up to `retries` more times), as a real device retries at its next sync — with
a new challenge from that check-in."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from .cloud import CloudRefused
from .device import ManagedDevice, Outcome
from .persona import Platform


@dataclass(frozen=True)
class DeviceRecord:
    device_id: str
    name: str
    platform: Platform


@dataclass(frozen=True)
class DeviceResult:
    record: DeviceRecord
    outcomes: tuple[Outcome, ...]
    error: str | None = None
    """The device could not enrol or check in at all."""
    seconds: float = 0.0
    check_ins: int = 1

    @property
    def installed(self) -> bool:
        """Every SCEP profile ended installed (and there was at least one)."""
        return (
            self.error is None
            and bool(self.outcomes)
            and all(o.state in ("installed", "renewed", "kept") for o in self.outcomes)
        )


@dataclass
class FleetReport:
    results: list[DeviceResult] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def installed(self) -> int:
        return sum(1 for r in self.results if r.installed)

    @property
    def failures(self) -> Counter[str]:
        """Why devices failed: `state (0xHRESULT)` or the error, with counts."""
        why: Counter[str] = Counter()
        for result in self.results:
            if result.installed:
                continue
            if result.error is not None:
                why[result.error] += 1
                continue
            for outcome in result.outcomes:
                if not outcome.ok:
                    code = f" (0x{outcome.hresult:08X})" if outcome.hresult is not None else ""
                    why[f"{outcome.state}{code}"] += 1
            if not result.outcomes:
                why["no SCEP profile applies"] += 1
        return why

    @property
    def retried(self) -> int:
        """Devices that needed more than one check-in."""
        return sum(1 for r in self.results if r.check_ins > 1)

    @property
    def rate(self) -> float:
        return len(self.results) / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def ok(self) -> bool:
        return bool(self.results) and self.installed == len(self.results)


async def run_fleet(
    records: list[DeviceRecord],
    *,
    make_device: Callable[[DeviceRecord], ManagedDevice],
    enroll_http: httpx.AsyncClient,
    token: str,
    concurrency: int = 16,
    retries: int = 1,
    on_done: Callable[[DeviceResult], None] | None = None,
) -> FleetReport:
    """Enrol and check in every device; `on_done` after each (a progress bar)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    gate = asyncio.Semaphore(concurrency)
    report = FleetReport()

    async def one(record: DeviceRecord) -> None:
        async with gate:
            started = time.perf_counter()
            device = make_device(record)
            try:
                await device.enroll(enroll_http, token)
                check_ins = 0
                while True:
                    outcomes = tuple(await device.check_in())
                    check_ins += 1
                    if all(o.ok for o in outcomes) or check_ins > retries:
                        break
                result = DeviceResult(
                    record, outcomes, seconds=time.perf_counter() - started, check_ins=check_ins
                )
            except (CloudRefused, httpx.HTTPError, OSError) as exc:
                result = DeviceResult(
                    record, (), f"{type(exc).__name__}: {exc}"[:200], time.perf_counter() - started
                )
            finally:
                await device.aclose()
            report.results.append(result)
            if on_done is not None:
                on_done(result)

    started = time.perf_counter()
    await asyncio.gather(*(one(record) for record in records))
    report.elapsed = time.perf_counter() - started
    return report
