"""Starting and stopping the processes a benchmark or check measures: the lab itself
(`scep-lab up` on a data folder) and micromdm's `scepserver` as a peer. Loopback only, bounded
waits, and every process is stopped on the way out."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from .home import Policy, Ports


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    *,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    verify: ssl.SSLContext | bool = True,
) -> None:
    """Until `url` answers below 500, bounded by `timeout`; fails early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, verify=verify).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    for sig in (signal.SIGINT, signal.SIGKILL):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)


@contextlib.contextmanager
def running(
    args: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            stop(proc)


def use_free_ports(ports: Ports) -> None:
    """A free loopback port for every party (tests, benchmarks)."""
    for name in (f.name for f in dataclasses.fields(ports)):
        setattr(ports, name, free_port())


@contextlib.contextmanager
def lab_process(data: Path, *, policy: Policy = "otp", timeout: float = 90) -> Iterator[str]:
    """`scep-lab up --policy POLICY` on `data` with free ports; yields NDES's SCEP URL once
    everything is up."""
    with lab_child(data, policy=policy, timeout=timeout) as (url, _):
        yield url


@contextlib.contextmanager
def lab_child(
    data: Path, *, policy: Policy = "otp", timeout: float = 90
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`lab_process`, and the process too (to read its memory)."""
    from .home import load_or_create_state, save_state

    state = load_or_create_state(data)
    use_free_ports(state.ports)
    save_state(data, state)
    args = [sys.executable, "-m", "lab", "up", "--data", str(data), "--policy", policy]
    with running(args, log=data / "lab.log") as proc:
        try:
            wait_http(f"{state.url('ndes')}/health", timeout=timeout, proc=proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{(data / 'lab.log').read_text()[-3000:]}") from exc
        yield state.scep_url, proc


@contextlib.contextmanager
def scepserver_process(folder: Path, challenge: str, *, timeout: float = 30) -> Iterator[str]:
    """micromdm's scepserver (Debian package `scep`) with a fresh CA and a static challenge."""
    with scepserver_child(folder, challenge, timeout=timeout) as (url, _):
        yield url


@contextlib.contextmanager
def scepserver_child(
    folder: Path, challenge: str, *, timeout: float = 30
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`scepserver_process`, and the process too; its CA is `folder/depot/ca.pem`."""
    binary = shutil.which("scepserver")
    if binary is None:
        raise RuntimeError("scepserver is not installed (Debian package 'scep')")
    folder.mkdir(parents=True, exist_ok=True)
    depot = folder / "depot"
    if not (depot / "ca.pem").exists():
        subprocess.run(
            [binary, "ca", "-init", "-depot", str(depot)],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=60,
        )
    port = free_port()
    args = [binary, "-depot", str(depot), "-port", str(port), "-challenge", challenge]
    with running(args, log=folder / "scepserver.log", cwd=folder) as proc:
        url = f"http://127.0.0.1:{port}/scep"
        wait_http(f"{url}?operation=GetCACaps", timeout=timeout, proc=proc)
        yield url, proc
