"""`scep-lab bench intune`: full Intune-flow enrolments per second, p50 and p99 latency and peak
memory of the lab and, in the same run, of micromdm's `scepserver` with a static challenge,
driven by the same device code with the same keys and parallelism.

The lab is `scep-lab up --policy intune`, a child process on a fresh data folder with free
ports; its side is bench_lab.py (new Windows devices: MDM enrolment, check-in, SCEP through
NDES, the Intune policy module, the connector, the cloud's validation, the CA and the success
notification; every certificate checked afterwards). The peer is `scepserver` with a static
challenge; its side is bench_peer.py. Keys are made before anything is timed and reused in
every round. A warm-up of P enrolments on each side is not counted; then rounds alternate the
sides (lab first in even rounds, scepserver first in odd ones) so that a noisy machine's slow
spells fall on both; medians are reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.pki import LabCert, load_certificate_file

from .bench_enrol import STATIC_CHALLENGE, machine
from .bench_lab import LabSide
from .bench_peer import ReusedKeys, RoundFigures, generate_keys, peer_round
from .home import load_state
from .procs import lab_child, scepserver_child

SIDES = ("lab", "scepserver")
SHOWN_FAILURES = 20
MEANING = (
    "lab: one enrolment = a new Windows device's MDM enrolment, a check-in (profile and "
    "challenge from the cloud), SCEP via NDES → Intune policy module → connector → cloud "
    "validation → CA, the success notification queued, the certificate checked, installed and "
    "reported; then checked here against the lab's CA chain and the CA's database. scepserver: "
    "the same device code, keys and parallelism with a stub cloud in process, SCEP with a static "
    "challenge (no MDM, no validation, no notification). enrol/s: certificates issued per "
    "wall-clock second, P devices at a time; p50/p99: one device, start to installed; server/"
    "driver CPU ms: CPU time of the server process (with children) / of this driver per issued "
    "certificate, less sensitive to a busy machine than wall-clock figures; medians of rounds "
    "alternating the sides after a warm-up. retried: issued at a second check-in after a failed "
    "first (time included); failed: not issued even then. duplicate serials: a serial the same CA "
    "had issued before in this run (a failure on the lab side). peak MiB: VmHWM of the server "
    "process and its children over the run, start-up included. Ratios are lab/scepserver: below "
    "1 for enrol/s, above 1 for the others, mean the lab is slower or bigger."
)


@dataclass
class Results:
    devices: int
    parallel: int
    rounds: int
    started: str
    warmup: dict[str, RoundFigures] = field(default_factory=dict)
    runs: dict[str, list[RoundFigures]] = field(default_factory=dict)
    memory_start_kib: dict[str, int] = field(default_factory=dict)
    """VmHWM once up, before any enrolment."""
    peak_memory_kib: dict[str, int] = field(default_factory=dict)
    keys_generated: dict[str, int] = field(default_factory=dict)
    """Keys the devices had to make while timed (none are expected)."""


def measure(*, devices: int, parallel: int, rounds: int) -> Results:
    results = Results(devices, parallel, rounds, dt.datetime.now(dt.UTC).isoformat("T", "seconds"))
    warm = min(parallel, devices)
    # a lab device takes two keys (its MDM identity's, SCEP's), a retry one more
    keys = generate_keys(2 * devices + devices // 10 + parallel)
    with tempfile.TemporaryDirectory(prefix="scep-lab-bench-intune-") as tmp:
        data, peer = Path(tmp) / "lab", Path(tmp) / "peer"
        with (
            lab_child(data, policy="intune", timeout=120) as (_, lab_proc),
            scepserver_child(peer, STATIC_CHALLENGE) as (peer_url, peer_proc),
        ):
            state = load_state(data)
            assert state is not None  # lab_child wrote it
            pki = data / "pki"
            lab = LabSide(
                data,
                state,
                root=load_certificate_file(pki / f"{LabCert.ROOT_CA.value}.pem"),
                issuing=load_certificate_file(pki / f"{LabCert.ISSUING_CA.value}.pem"),
            )
            peer_ca = load_certificate_file(peer / "depot" / "ca.pem")
            peer_seen: set[int] = set()
            labels = {"W": warm} | {f"R{n}": devices for n in range(rounds)}
            names = {label: lab.add(f"BENCH-{label}", count) for label, count in labels.items()}
            pids = {"lab": lab_proc.pid, "scepserver": peer_proc.pid}
            results.memory_start_kib = {side: peak_memory_kib(pid) for side, pid in pids.items()}
            results.peak_memory_kib = dict(results.memory_start_kib)
            results.keys_generated = dict.fromkeys(SIDES, 0)

            def run(side: str, label: str) -> RoundFigures:
                source, meter = ReusedKeys(keys), CpuMeter(pids[side])
                if side == "lab":
                    done = asyncio.run(lab.round(names[label], source, parallel, meter))
                else:
                    done = asyncio.run(peer_round(
                        peer_url, peer_ca, labels[label], source, parallel, label,
                        peer / "devices", peer_seen, meter,
                    ))  # fmt: skip
                results.keys_generated[side] += source.generated
                issued = max(done.issued, 1)
                done = replace(
                    done,
                    server_cpu_ms=1000 * meter.server / issued,
                    driver_cpu_ms=1000 * meter.driver / issued,
                )
                for name, pid in pids.items():
                    peak = results.peak_memory_kib[name]
                    results.peak_memory_kib[name] = max(peak, peak_memory_kib(pid))
                return done

            results.warmup = {side: run(side, "W") for side in SIDES}
            results.runs = {side: [] for side in SIDES}
            for n in range(rounds):
                for side in SIDES if n % 2 == 0 else SIDES[::-1]:
                    results.runs[side].append(run(side, f"R{n}"))
    return results


def _family(pid: int) -> list[Path]:
    """/proc folders of process `pid` and its live descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
        except OSError:  # the process ended meanwhile
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        found.append(Path(f"/proc/{current}"))
    return found


def peak_memory_kib(pid: int) -> int:
    """VmHWM (peak resident memory, KiB) of process `pid` plus that of its live descendants;
    0 for a process that is gone."""
    total = 0
    for proc in _family(pid):
        with contextlib.suppress(OSError):
            status = (proc / "status").read_text().splitlines()
            total += next((int(x.split()[1]) for x in status if x.startswith("VmHWM:")), 0)
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its descendants, live or waited for."""
    ticks = 0
    for proc in _family(pid):
        with contextlib.suppress(OSError):
            fields = (proc / "stat").read_text().rpartition(")")[2].split()
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds a server process and this driver spend inside `with meter:`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.server = self.driver = 0.0

    def __enter__(self) -> CpuMeter:
        self._start = (cpu_seconds(self.pid), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.server = cpu_seconds(self.pid) - self._start[0]
        self.driver = time.process_time() - self._start[1]


def _ratio(a: float, b: float) -> float | None:
    value = a / b if b else math.nan
    return None if math.isnan(value) else value


@dataclass(frozen=True)
class Summary:
    """What `show` prints (and `--json` gives); None where a figure could not be had."""

    median: dict[str, dict[str, float | None]]
    ratio: dict[str, float | None]
    enrolments: dict[str, int]
    issued: dict[str, int]
    retried: dict[str, int]
    duplicate_serials: dict[str, int]
    failed: dict[str, int]
    """Warm-up included (the other counts are of the timed rounds)."""
    failures: dict[str, list[str]]


def summarise(results: Results) -> Summary:
    fields = ("rate", "p50_ms", "p99_ms", "server_cpu_ms", "driver_cpu_ms")
    median = {
        side: {f: statistics.median(getattr(r, f) for r in results.runs[side]) for f in fields}
        for side in SIDES
    }
    lab, peer = median["lab"], median["scepserver"]
    memory = results.peak_memory_kib
    every = {side: [results.warmup[side], *results.runs[side]] for side in SIDES}
    return Summary(
        median={s: {f: _ratio(v, 1) for f, v in m.items()} for s, m in median.items()},
        ratio={f: _ratio(lab[f], peer[f]) for f in fields}
        | {"peak_memory": _ratio(memory["lab"], memory["scepserver"])},
        enrolments={s: sum(r.enrolments for r in results.runs[s]) for s in SIDES},
        issued={s: sum(r.issued for r in results.runs[s]) for s in SIDES},
        retried={s: sum(r.retried for r in results.runs[s]) for s in SIDES},
        duplicate_serials={s: sum(r.duplicate_serials for r in results.runs[s]) for s in SIDES},
        failed={s: sum(r.failed for r in every[s]) for s in SIDES},
        failures={s: [f for r in every[s] for f in r.failures][:SHOWN_FAILURES] for s in SIDES},
    )


def show(results: Results, *, as_json: bool) -> None:
    """Print the figures (a table, or JSON); exit 1 if any enrolment failed."""
    summary = summarise(results)
    if as_json:
        out = asdict(results) | asdict(summary) | {"machine": machine(), "meaning": MEANING}
        for runs in out["runs"].values():
            for run in runs:
                run["failures"] = run["failures"][:SHOWN_FAILURES]
        for run in out["warmup"].values():
            run["failures"] = run["failures"][:SHOWN_FAILURES]
        typer.echo(json.dumps(_finite(out), indent=2))
    else:
        _table(results, summary)
    if any(summary.failed.values()):
        raise typer.Exit(1)


def _finite(value: object) -> object:
    """`value` with NaN (a round that issued nothing has no latency) as null, for strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _num(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _table(results: Results, summary: Summary) -> None:
    memory, ratio = results.peak_memory_kib, summary.ratio
    table = Table(
        title=f"Intune-flow enrolments: {results.devices} × {results.rounds} rounds, "
        f"{results.parallel} parallel ({machine()}; {results.started})"
    )
    columns = ("server", "enrol/s", "p50 ms", "p99 ms", "server CPU ms", "driver CPU ms",
               "peak MiB")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "server" else "right")
    for side, label in zip(SIDES, ("lab (Intune)", "scepserver"), strict=True):
        row = summary.median[side]
        table.add_row(
            label, _num(row["rate"], ".1f"), _num(row["p50_ms"], ".0f"),
            _num(row["p99_ms"], ".0f"), _num(row["server_cpu_ms"], ".0f"),
            _num(row["driver_cpu_ms"], ".0f"), f"{memory[side] / 1024:.0f}",
        )  # fmt: skip
    table.add_row(
        "lab/scepserver", *(_num(ratio[f], ".2f") for f in summary.median["lab"]),
        _num(ratio["peak_memory"], ".1f"),
    )  # fmt: skip
    console = Console()
    console.print(table)
    for side in SIDES:
        rates = ", ".join(f"{r.rate:.1f}" for r in results.runs[side])
        console.print(
            f"{side}: {summary.issued[side]} of {summary.enrolments[side]} issued, "
            f"{summary.retried[side]} retried, {summary.duplicate_serials[side]} duplicate "
            f"serials; enrol/s by round {rates}; {summary.failed[side]} failed (warm-up included)"
        )
    console.print(MEANING, style="dim")
    if any(results.keys_generated.values()):
        made = ", ".join(f"{side} {n}" for side, n in results.keys_generated.items())
        console.print(f"[yellow]keys generated while timed: {made}[/yellow]")
    for side in SIDES:
        for why in summary.failures[side]:
            console.print(f"[red]{side} failed:[/red] {why}")
