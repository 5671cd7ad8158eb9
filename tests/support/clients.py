"""Drive the real third-party SCEP clients (and openssl) from tests.

* :func:`run_scepclient` — micromdm ``scepclient`` (Debian package ``scep``), one run = one
  enrolment (PKCSReq), or a RenewalReq when the certificate file already exists.
* :class:`Certmonger` — a private ``certmonger`` daemon (no D-Bus, own socket and state folder)
  plus ``getcert add-scep-ca`` / ``request`` / ``list``.
* :class:`MicromdmScepServer` — micromdm's reference ``scepserver`` on loopback, handy as a known
  good server for harness self-tests.
* openssl helpers: :func:`openssl_verify`, :func:`openssl_cms_print`,
  :func:`openssl_cms_extract`, :func:`openssl_cms_decrypt`.

Every subprocess call has a timeout; every wait loop is bounded. Failures raise
:class:`ClientError` whose message contains the command line and the tool's stdout/stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = [
    "CERTMONGER",
    "GETCERT",
    "OPENSSL",
    "SCEPCLIENT",
    "SCEPSERVER",
    "Certmonger",
    "CertmongerRequest",
    "ClientError",
    "MicromdmScepServer",
    "ScepClientResult",
    "have_certmonger",
    "have_scepclient",
    "have_scepserver",
    "openssl_cms_decrypt",
    "openssl_cms_extract",
    "openssl_cms_print",
    "openssl_verify",
    "package_version",
    "run_scepclient",
]

SCEPCLIENT = shutil.which("scepclient")
SCEPSERVER = shutil.which("scepserver")
CERTMONGER = shutil.which("certmonger") or (
    "/usr/sbin/certmonger" if os.path.exists("/usr/sbin/certmonger") else None
)
GETCERT = shutil.which("getcert")
OPENSSL = shutil.which("openssl")


def have_scepclient() -> bool:
    return SCEPCLIENT is not None


def have_scepserver() -> bool:
    return SCEPSERVER is not None


def have_certmonger() -> bool:
    return CERTMONGER is not None and GETCERT is not None


class ClientError(RuntimeError):
    """A client/tool run failed; the message carries the command and its output."""


def _fmt_cmd(args: Sequence[str]) -> str:
    return " ".join(a if a and " " not in a else repr(a) for a in args)


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _run(
    args: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input_bytes: bytes | None = None,
) -> tuple[int | None, bytes, bytes, float]:
    """Run a command in its own session; on timeout kill its process group.

    Returns ``(returncode or None on timeout, stdout, stderr, seconds)``.
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        list(args),
        stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input_bytes, timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
        rc = None
    return rc, out or b"", err or b"", time.monotonic() - start


def package_version(package: str) -> str | None:
    """``dpkg-query`` version of a Debian package, or None."""
    try:
        rc, out, _, _ = _run(["dpkg-query", "-W", "-f=${Version}", package], timeout=15)
    except FileNotFoundError:
        return None
    if rc != 0:
        return None
    return out.decode().strip() or None


# ---------------------------------------------------------------------------------------------
# micromdm scepclient
# ---------------------------------------------------------------------------------------------


@dataclass
class ScepClientResult:
    args: list[str]
    returncode: int | None  # None = killed on timeout
    stdout: str
    stderr: str
    duration: float
    workdir: Path
    key_path: Path
    cert_path: Path
    renewal: bool  # the certificate file existed before the run → RenewalReq
    certificate: Path | None  # cert_path if a (new) certificate was written, else None

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.certificate is not None

    def describe(self) -> str:
        status = "timed out" if self.timed_out else f"exit {self.returncode}"
        return (
            f"scepclient {status} after {self.duration:.1f}s\n$ {_fmt_cmd(self.args)}\n"
            f"--- stdout\n{_tail(self.stdout)}\n--- stderr\n{_tail(self.stderr)}"
        )

    def check(self) -> ScepClientResult:
        """Raise :class:`ClientError` unless the run succeeded and saved a certificate."""
        if not self.ok:
            raise ClientError(self.describe())
        return self

    def load_certificate(self) -> x509.Certificate:
        if self.certificate is None:
            raise ClientError("no certificate was saved\n" + self.describe())
        return x509.load_pem_x509_certificate(self.certificate.read_bytes())


def run_scepclient(
    url: str,
    workdir: Path | str,
    *,
    cn: str,
    challenge: str | None,
    org: str = "scep-client",
    ou: str | None = None,
    country: str | None = None,
    locality: str | None = None,
    province: str | None = None,
    key_size: int = 2048,
    ca_fingerprint: str | None = None,
    cacert_message: str | None = None,
    key_path: Path | str | None = None,
    cert_path: Path | str | None = None,
    debug: bool = True,
    allow_reuse: bool = False,
    check: bool = False,
    timeout: float = 60,
    extra: Iterable[str] = (),
) -> ScepClientResult:
    """Run ``scepclient`` once and return its outcome.

    Files live in ``workdir`` (created if needed): ``key.pem`` (generated by scepclient when
    absent), ``cert.pem`` (written on success) and scepclient's own ``csr.pem``/``self.pem``
    caches. Use a **fresh** ``workdir`` for each initial enrolment; scepclient reuses a cached
    ``csr.pem`` (subject, challenge) next to the key. A stale cache without a certificate raises
    ``ValueError`` unless ``allow_reuse=True`` (e.g. to resend the same request on purpose).

    Renewal: call again with the same ``workdir`` once ``cert.pem`` exists (issued by the server
    or written by the test); scepclient then signs with that certificate and sends a RenewalReq.

    ``ca_fingerprint`` is the SHA-256 hex of the CA certificate (scepclient then encrypts to that
    certificate only). ``timeout`` bounds the run (scepclient sleeps 30 s on PENDING). With
    ``check=True`` a failure raises :class:`ClientError` including stderr.
    """
    if SCEPCLIENT is None:
        raise ClientError("scepclient is not installed (Debian package 'scep')")
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    kpath = Path(key_path) if key_path is not None else wd / "key.pem"
    cpath = Path(cert_path) if cert_path is not None else wd / "cert.pem"
    renewal = cpath.exists()
    stale = [p.name for p in (kpath.parent / "csr.pem", kpath.parent / "self.pem") if p.exists()]
    if stale and not renewal and not allow_reuse:
        raise ValueError(
            f"{kpath.parent} already holds scepclient caches {stale} but no certificate; use a "
            "fresh workdir per enrolment (or allow_reuse=True to resend the cached request)"
        )
    before = cpath.stat().st_mtime_ns if renewal else None
    before_bytes = cpath.read_bytes() if renewal else None

    args = [SCEPCLIENT, "-server-url", url, "-private-key", str(kpath), "-certificate", str(cpath)]
    args += ["-cn", cn, "-organization", org, "-keySize", str(key_size)]
    if challenge is not None:
        args += ["-challenge", challenge]
    for flag, value in (
        ("-ou", ou),
        ("-country", country),
        ("-locality", locality),
        ("-province", province),
        ("-ca-fingerprint", ca_fingerprint),
        ("-cacert-message", cacert_message),
    ):
        if value is not None:
            args += [flag, value]
    if debug:
        args.append("-debug")
    args += list(extra)

    rc, out, err, secs = _run(args, timeout=timeout, cwd=wd)
    written: Path | None = None
    if cpath.exists():
        changed = (
            before is None
            or cpath.stat().st_mtime_ns != before
            or cpath.read_bytes() != before_bytes
        )
        if changed:
            written = cpath
    result = ScepClientResult(
        args=args,
        returncode=rc,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
        duration=secs,
        workdir=wd,
        key_path=kpath,
        cert_path=cpath,
        renewal=renewal,
        certificate=written,
    )
    if check:
        result.check()
    return result


# ---------------------------------------------------------------------------------------------
# certmonger
# ---------------------------------------------------------------------------------------------

# Terminal / resting states of a certmonger request.
CERTMONGER_DONE = frozenset({"MONITORING"})
CERTMONGER_FAILED = frozenset(
    {"CA_UNREACHABLE", "CA_REJECTED", "CA_UNCONFIGURED", "NEED_GUIDANCE", "NEED_CA"}
)
CERTMONGER_WAITING = frozenset(
    {
        "CA_WORKING",
        "SUBMITTING",
        "NEWLY_ADDED",
        "GENERATING_CSR",
        "GENERATING_KEY_PAIR",
        "NEED_KEY_PAIR",
        "NEED_CSR",
        "NEED_TO_SUBMIT",
        "NEED_TO_SAVE_CERT",
        "SAVING_CERT",
        "NEED_TO_SAVE_CA_CERTS",
        "NEED_TO_READ_CERT",
        "READING_CERT",
    }
)


@dataclass
class CertmongerRequest:
    request_id: str
    key_path: Path
    cert_path: Path
    returncode: int | None  # of ``getcert request`` (None = killed on timeout)
    stdout: str
    stderr: str
    duration: float
    info: dict[str, str] = field(default_factory=dict)  # ``getcert list -i ID`` fields

    @property
    def status(self) -> str | None:
        return self.info.get("status")

    @property
    def ca_error(self) -> str | None:
        return self.info.get("ca-error")

    @property
    def ok(self) -> bool:
        return self.status == "MONITORING" and self.cert_path.exists()


def parse_getcert_list(text: str) -> dict[str, dict[str, str]]:
    """Parse ``getcert list`` output into ``{request_id: {field: value}}``."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    last_key: str | None = None
    for line in text.splitlines():
        m = re.match(r"^Request ID '(.*)':\s*$", line)
        if m:
            current = out.setdefault(m.group(1), {})
            last_key = None
            continue
        if current is None or not line.strip():
            continue
        fm = re.match(r"^\t([A-Za-z][^:]*):\s?(.*)$", line)
        if fm:
            last_key = fm.group(1).strip()
            current[last_key] = fm.group(2).strip()
        elif last_key is not None:  # continuation of a multi-line value (ca-error...)
            current[last_key] += "\n" + line.strip()
    return out


class Certmonger:
    """A private certmonger daemon in ``workdir`` (no D-Bus), driven with ``getcert``.

    ``with Certmonger(tmp_path / "cm") as cm:`` starts ``certmonger -n -L -P cm.sock -p cm.pid``
    with every ``CERTMONGER_*`` state directory inside ``workdir`` and stops it on exit. The
    daemon's debug log is ``workdir/certmonger.log`` (see :meth:`log`).
    """

    def __init__(self, workdir: Path | str, *, debug_level: int = 3, start_timeout: float = 15):
        if not have_certmonger():
            raise ClientError("certmonger/getcert are not installed (Debian package 'certmonger')")
        self.workdir = Path(workdir)
        self._short_dir: str | None = None
        self.socket_path = self.workdir / "cm.sock"
        if len(str(self.socket_path)) > 100:  # AF_UNIX paths are limited to 108 bytes
            self._short_dir = tempfile.mkdtemp(prefix="cm-")
            self.socket_path = Path(self._short_dir) / "cm.sock"
        self.pid_path = self.workdir / "cm.pid"
        self.log_path = self.workdir / "certmonger.log"
        self.debug_level = debug_level
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._counter = 0
        self.commands: list[list[str]] = []  # daemon + every getcert invocation, in order
        self.env = dict(os.environ)
        dirs = {
            "CERTMONGER_CONFIG_DIR": "config",
            "CERTMONGER_REQUESTS_DIR": "requests",
            "CERTMONGER_CAS_DIR": "cas",
            "CERTMONGER_LOCAL_CA_DIR": "local-ca",
            "CERTMONGER_TMPDIR": "tmp",
        }
        for var, sub in dirs.items():
            self.env[var] = str(self.workdir / sub)
        self.env["CERTMONGER_SYSTEM_LOCK_FILE"] = str(self.workdir / "lock")
        self.env["CERTMONGER_PVT_ADDRESS"] = f"unix:path={self.socket_path}"
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Certmonger:
        if self._proc is not None:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        for var in (
            "CERTMONGER_CONFIG_DIR",
            "CERTMONGER_REQUESTS_DIR",
            "CERTMONGER_CAS_DIR",
            "CERTMONGER_LOCAL_CA_DIR",
            "CERTMONGER_TMPDIR",
        ):
            Path(self.env[var]).mkdir(parents=True, exist_ok=True)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        assert CERTMONGER is not None
        args = [CERTMONGER, "-n", "-L", "-P", str(self.socket_path), "-p", str(self.pid_path)]
        if self.debug_level:
            args += ["-d", str(self.debug_level)]
        self.commands.append(args)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file = log
        self._proc = subprocess.Popen(
            args,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.socket_path.exists() and self._socket_accepts():
                return self
            time.sleep(0.05)
        rc = self._proc.poll()
        self.stop()
        raise ClientError(
            f"certmonger did not open {self.socket_path} within {self.start_timeout}s "
            f"(exit={rc})\n$ {_fmt_cmd(args)}\n--- log\n{_tail(self.log())}"
        )

    def _socket_accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            try:
                s.connect(str(self.socket_path))
            except OSError:
                return False
            return True

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the daemon's process group, then SIGKILL after ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=timeout)
            # helpers (scep-submit) run in the daemon's session: make sure none outlive it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._short_dir is not None:
            shutil.rmtree(self._short_dir, ignore_errors=True)
            self._short_dir = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Certmonger:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- getcert ------------------------------------------------------------------------------
    def getcert(
        self, *args: str, timeout: float = 30, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``getcert ARGS`` against this daemon (CERTMONGER_PVT_ADDRESS)."""
        assert GETCERT is not None
        cmd = [GETCERT, *args]
        self.commands.append(cmd)
        rc, out, err, _ = _run(cmd, timeout=timeout, env=self.env)
        res = subprocess.CompletedProcess(
            cmd,
            -9 if rc is None else rc,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
        )
        if check and rc != 0:
            what = "timed out" if rc is None else f"exit {rc}"
            raise ClientError(
                f"getcert {what}\n$ {_fmt_cmd(cmd)}\n--- stdout\n{_tail(res.stdout)}\n"
                f"--- stderr\n{_tail(res.stderr)}\n--- certmonger log\n{_tail(self.log(), 3000)}"
            )
        return res

    def add_scep_ca(
        self,
        name: str,
        url: str,
        *,
        ra_cert: Path | str | None = None,
        ca_cert: Path | str | None = None,
        other_certs: Path | str | None = None,
        non_renewal: bool = False,
        wait_for_certs: float = 10,
        extra: Iterable[str] = (),
    ) -> dict[str, str]:
        """``getcert add-scep-ca -c NAME -u URL``; then wait (bounded) until the daemon has
        fetched the CA certificates (its list-cas shows a thumbprint). Returns the CA listing."""
        args = ["add-scep-ca", "-c", name, "-u", url]
        for flag, value in (("-r", ra_cert), ("-N", ca_cert), ("-I", other_certs)):
            if value is not None:
                args += [flag, str(value)]
        if non_renewal:
            args.append("-n")
        args += list(extra)
        self.getcert(*args)
        deadline = time.monotonic() + wait_for_certs
        info = self.list_cas().get(name, {})
        while time.monotonic() < deadline and not any("thumbprint" in k for k in info):
            time.sleep(0.1)
            info = self.list_cas().get(name, {})
        return info

    def list_cas(self) -> dict[str, dict[str, str]]:
        text = self.getcert("list-cas").stdout
        out: dict[str, dict[str, str]] = {}
        current: dict[str, str] | None = None
        for line in text.splitlines():
            m = re.match(r"^CA '(.*)':\s*$", line)
            if m:
                current = out.setdefault(m.group(1), {})
            elif current is not None and ":" in line:
                k, _, v = line.strip().partition(":")
                current[k.strip()] = v.strip()
        return out

    def list(self) -> dict[str, dict[str, str]]:
        """``getcert list`` parsed: ``{request_id: {"status": ..., "ca-error": ..., ...}}``."""
        return parse_getcert_list(self.getcert("list").stdout)

    def status(self, request_id: str) -> dict[str, str]:
        res = self.getcert("list", "-i", request_id, check=False)
        return parse_getcert_list(res.stdout).get(request_id, {})

    def wait_for_status(
        self,
        request_id: str,
        statuses: Iterable[str] = CERTMONGER_DONE | CERTMONGER_FAILED,
        timeout: float = 60,
        interval: float = 0.25,
    ) -> dict[str, str]:
        """Poll until the request reaches one of ``statuses``; TimeoutError with the listing."""
        wanted = set(statuses)
        deadline = time.monotonic() + timeout
        info = self.status(request_id)
        while info.get("status") not in wanted:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"certmonger request {request_id} still {info.get('status')!r} after "
                    f"{timeout}s (wanted {sorted(wanted)}): {info}"
                )
            time.sleep(interval)
            info = self.status(request_id)
        return info

    def request(
        self,
        ca: str,
        key_path: Path | str,
        cert_path: Path | str,
        subject: str,
        challenge: str | None,
        *,
        wait: bool = True,
        timeout: float = 60,
        request_id: str | None = None,
        key_size: int | None = None,
        check: bool = False,
        extra: Iterable[str] = (),
    ) -> CertmongerRequest:
        """``getcert request -c CA -k KEY -f CERT -N SUBJECT -L CHALLENGE [-w]``.

        certmonger generates ``key_path`` (RSA-2048 unless ``key_size``) when absent. With
        ``wait=True``, ``getcert -w --wait-timeout`` blocks until the request leaves the
        submitting states: it returns 0 once MONITORING (issued) and non-zero on CA_UNREACHABLE /
        CA_REJECTED / ...; a PENDING (CA_WORKING) request keeps it waiting up to ``timeout``.
        The result's ``info`` holds ``getcert list -i ID`` (``status``, ``ca-error``...).
        With ``check=True`` anything but an issued certificate raises :class:`ClientError`.
        """
        self._counter += 1
        rid = request_id or f"req{self._counter}"
        kpath, cpath = Path(key_path), Path(cert_path)
        args = ["request", "-I", rid, "-c", ca, "-k", str(kpath), "-f", str(cpath), "-N", subject]
        if challenge is not None:
            args += ["-L", challenge]
        if key_size is not None:
            args += ["-g", str(key_size)]
        if wait:
            args += ["-w", "--wait-timeout", str(max(1, int(timeout)))]
        args += list(extra)
        start = time.monotonic()
        res = self.getcert(*args, timeout=timeout + 15, check=False)
        result = CertmongerRequest(
            request_id=rid,
            key_path=kpath,
            cert_path=cpath,
            returncode=None if res.returncode == -9 else res.returncode,
            stdout=res.stdout,
            stderr=res.stderr,
            duration=time.monotonic() - start,
        )
        result.info = self.status(rid)
        if check and not result.ok:
            raise ClientError(
                f"certmonger request {rid} ended {result.status!r} "
                f"(ca-error: {result.ca_error!r}, getcert exit {result.returncode})\n"
                f"$ getcert {_fmt_cmd(args)}\n--- stdout\n{_tail(res.stdout)}\n"
                f"--- stderr\n{_tail(res.stderr)}\n--- listing\n{result.info}\n"
                f"--- certmonger log\n{_tail(self.log(), 3000)}"
            )
        return result

    def stop_tracking(self, request_id: str) -> None:
        self.getcert("stop-tracking", "-i", request_id, check=False)


# ---------------------------------------------------------------------------------------------
# micromdm scepserver (known-good reference server for harness self-tests)
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MicromdmScepServer:
    """``scepserver`` on 127.0.0.1 with a fresh CA (``scepserver ca -init``) in ``workdir``.

    ``url`` is set once started; ``ca_cert_path`` is the CA's PEM. Only for harness tests.
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        challenge: str | None = None,
        key_size: int = 2048,
        allow_renew_days: int = 0,
        start_timeout: float = 15,
    ):
        if SCEPSERVER is None:
            raise ClientError("scepserver is not installed (Debian package 'scep')")
        self.workdir = Path(workdir)
        self.depot = self.workdir / "depot"
        self.challenge = challenge
        self.key_size = key_size
        self.allow_renew_days = allow_renew_days
        self.start_timeout = start_timeout
        self.log_path = self.workdir / "scepserver.log"
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def ca_cert_path(self) -> Path:
        return self.depot / "ca.pem"

    def start(self) -> MicromdmScepServer:
        assert SCEPSERVER is not None
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.ca_cert_path.exists():
            init = [
                SCEPSERVER,
                "ca",
                "-init",
                "-depot",
                str(self.depot),
                "-keySize",
                str(self.key_size),
            ]
            rc, out, err, _ = _run(init, timeout=60, cwd=self.workdir)
            if rc != 0:
                raise ClientError(
                    f"scepserver ca -init failed ({rc})\n{out.decode()}\n{err.decode()}"
                )
        port = _free_port()
        args = [
            SCEPSERVER,
            "-depot",
            str(self.depot),
            "-port",
            str(port),
            "-debug",
            "-allowrenew",
            str(self.allow_renew_days),
        ]
        if self.challenge is not None:
            args += ["-challenge", self.challenge]
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file = log
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline and self._proc.poll() is None:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    self.url = f"http://127.0.0.1:{port}/scep"
                    return self
            time.sleep(0.05)
        self.stop()
        raise ClientError(f"scepserver did not listen on {port}\n{self.log_path.read_text()}")

    def stop(self, timeout: float = 10) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> MicromdmScepServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# openssl
# ---------------------------------------------------------------------------------------------

CertLike = Path | str | bytes | x509.Certificate


def _load_certs(item: CertLike) -> list[x509.Certificate]:
    if isinstance(item, x509.Certificate):
        return [item]
    data = item if isinstance(item, bytes) else Path(item).read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def _openssl() -> str:
    if OPENSSL is None:
        raise ClientError("openssl is not installed")
    return OPENSSL


def openssl_verify(
    cert_pem_path: Path | str, chain_pems: Sequence[CertLike], *, timeout: float = 30
) -> tuple[bool, str]:
    """``openssl verify`` ``cert_pem_path`` against ``chain_pems``.

    Self-signed certificates in ``chain_pems`` become trust anchors (``-CAfile``), the others
    untrusted intermediates; without any self-signed one, ``-partial_chain`` lets an
    intermediate anchor the chain. Returns ``(ok, combined output)``.
    """
    roots: list[x509.Certificate] = []
    inter: list[x509.Certificate] = []
    for item in chain_pems:
        for c in _load_certs(item):
            (roots if c.subject == c.issuer else inter).append(c)
    with tempfile.TemporaryDirectory(prefix="ossl-verify-") as tmp:
        args = [_openssl(), "verify"]
        if roots:
            ca = Path(tmp) / "roots.pem"
            ca.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in roots))
            args += ["-CAfile", str(ca)]
        if inter:
            un = Path(tmp) / "untrusted.pem"
            un.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in inter))
            if roots:
                args += ["-untrusted", str(un)]
            else:
                args += ["-partial_chain", "-CAfile", str(un)]
        args.append(str(cert_pem_path))
        rc, out, err, _ = _run(args, timeout=timeout)
    text = (out + err).decode(errors="replace")
    return rc == 0, f"$ {_fmt_cmd(args)}\n{text}"


def _cms(args: list[str], data: bytes, timeout: float) -> bytes:
    cmd = [_openssl(), "cms", *args]
    rc, out, err, _ = _run(cmd, timeout=timeout, input_bytes=data)
    if rc != 0:
        raise ClientError(f"openssl cms failed ({rc})\n$ {_fmt_cmd(cmd)}\n{err.decode()}")
    return out


def openssl_cms_print(der: bytes | Path, *, timeout: float = 30) -> str:
    """``openssl cms -cmsout -print -inform DER`` of a DER CMS structure."""
    data = der.read_bytes() if isinstance(der, Path) else der
    return _cms(["-cmsout", "-print", "-inform", "DER"], data, timeout).decode(errors="replace")


def openssl_cms_extract(der: bytes | Path, *, timeout: float = 30) -> bytes:
    """Signed content of a pkiMessage (``cms -verify -noverify -binary``): the envelope DER."""
    data = der.read_bytes() if isinstance(der, Path) else der
    return _cms(["-verify", "-noverify", "-inform", "DER", "-binary"], data, timeout)


def openssl_cms_decrypt(
    envelope_der: bytes | Path,
    key_pem: Path | str,
    cert_pem: Path | str | None = None,
    *,
    timeout: float = 30,
) -> bytes:
    """Decrypt an EnvelopedData (DER) with ``key_pem``; legacy provider on so DES works."""
    data = envelope_der.read_bytes() if isinstance(envelope_der, Path) else envelope_der
    args = ["-decrypt", "-inform", "DER", "-binary", "-inkey", str(key_pem)]
    if cert_pem is not None:
        args += ["-recip", str(cert_pem)]
    args += ["-provider", "legacy", "-provider", "default"]
    return _cms(args, data, timeout)
