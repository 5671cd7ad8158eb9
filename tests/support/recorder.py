"""A tiny recording SCEP "server" for driving real clients in tests.

It answers ``GetCACaps`` with a configurable list, ``GetCACert`` with a degenerate PKCS#7 of a
configurable certificate list (``application/x-x509-ca-ra-cert``), and records every request it
receives. ``PKIOperation`` requests are decoded (POST body as is; GET ``message=`` in either base64
alphabet, tolerating unescaped ``+`` and ``%0A``) and answered with HTTP 500 by default so that the
client stops.

Usage::

    with ScepRecorder(certs=[ra_sign, ra_enc, ca], caps=["POSTPKIOperation", "SHA-256"]) as rec:
        run_client(rec.url)
        rec.wait_for_pki_operation(timeout=30)
        der = rec.pki_operations[0].message

The server runs in a background thread on 127.0.0.1 with an ephemeral port; leaving the ``with``
block shuts it down, joins the handler threads and closes every socket.
"""

from __future__ import annotations

import base64
import binascii
import http.server
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.serialization.pkcs7 import serialize_certificates

__all__ = [
    "DEFAULT_CAPS",
    "RecordedRequest",
    "ScepRecorder",
    "decode_scep_message_param",
    "degenerate_pkcs7",
]

DEFAULT_CAPS: tuple[str, ...] = ("POSTPKIOperation", "SHA-256", "SHA-1", "AES", "DES3")

RA_CERT_CONTENT_TYPE = "application/x-x509-ca-ra-cert"
CA_CERT_CONTENT_TYPE = "application/x-x509-ca-cert"


@dataclass
class RecordedRequest:
    """One HTTP request received by the recorder."""

    method: str
    path: str  # path without the query
    raw_query: str  # exactly as it appeared on the request line
    query: dict[str, list[str]]  # parsed with parse_qs (note: '+' becomes ' ' here)
    headers: list[tuple[str, str]]
    body: bytes
    operation: str | None
    # For PKIOperation: the DER pkiMessage (POST body, or the decoded GET ``message=``).
    message: bytes | None = None
    # "post", "base64" (standard alphabet) or "base64url" (URL-safe alphabet); None otherwise.
    message_encoding: str | None = None
    received_at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def request_line_length(self) -> int:
        target = self.path + ("?" + self.raw_query if self.raw_query else "")
        return len(f"{self.method} {target} HTTP/1.1")


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_DATA = bytes.fromhex("06092a864886f70d010701")


def degenerate_pkcs7(certs: Sequence[x509.Certificate], *, keep_order: bool = False) -> bytes:
    """Certs-only SignedData (DER). ``keep_order=False`` uses cryptography's
    ``serialize_certificates`` (which DER-sorts the SET OF certificates); ``keep_order=True``
    hand-encodes it with the certificates in the given order, as NDES sends them
    (RA signing, RA encryption, CA)."""
    if not keep_order:
        return serialize_certificates(list(certs), Encoding.DER)
    cert_bytes = b"".join(c.public_bytes(Encoding.DER) for c in certs)
    signed_data = _der(
        0x30,
        _der(0x02, b"\x01")  # version 1
        + _der(0x31, b"")  # digestAlgorithms: empty SET
        + _der(0x30, _OID_DATA)  # encapContentInfo without content
        + _der(0xA0, cert_bytes)  # [0] IMPLICIT certificates, order kept
        + _der(0x31, b""),  # signerInfos: empty SET
    )
    return _der(0x30, _OID_SIGNED_DATA + _der(0xA0, signed_data))


def _raw_param(raw_query: str, name: str) -> str | None:
    """Value of ``name`` in a raw query string, without any decoding."""
    for part in raw_query.split("&"):
        key, sep, value = part.partition("=")
        if sep and urllib.parse.unquote(key) == name:
            return value
    return None


def decode_scep_message_param(raw_value: str) -> tuple[bytes, str]:
    """Decode a GET ``message=`` value (still percent-encoded) to DER.

    Accepts the standard and the URL-safe base64 alphabets, an unescaped ``+`` (kept as ``+``,
    not turned into a space), embedded line breaks (``%0A``/``%0D``) and missing padding.
    Returns ``(der, "base64" | "base64url")``.
    """
    text = urllib.parse.unquote(raw_value)  # NOT unquote_plus: '+' is a base64 digit here
    text = "".join(text.split())  # drop %0A, %0D, spaces
    urlsafe = "-" in text or "_" in text
    if urlsafe and ("+" in text or "/" in text):
        raise ValueError("message mixes standard and URL-safe base64 alphabets")
    text = text.rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(text.encode("ascii")), "base64url"
        return base64.b64decode(text.encode("ascii"), validate=True), "base64"
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"undecodable SCEP message parameter: {exc}") from exc


# A PKIOperation responder returns (status, content_type, body).
PkiResponder = Callable[[RecordedRequest], tuple[int, str, bytes]]


def _default_pki_responder(_req: RecordedRequest) -> tuple[int, str, bytes]:
    return 500, "text/plain", b"recorded by ScepRecorder; no CertRep\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _RecorderHTTPServer
    timeout = 15  # per-connection socket timeout so handler threads always finish
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        self.server.recorder.log.append(format % args)

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self._handle(body)

    def _handle(self, body: bytes) -> None:
        rec = self.server.recorder
        path, _, raw_query = self.path.partition("?")
        query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        operation = query.get("operation", [None])[0]
        req = RecordedRequest(
            method=self.command,
            path=path,
            raw_query=raw_query,
            query=query,
            headers=list(self.headers.items()),
            body=body,
            operation=operation,
        )
        try:
            status, ctype, payload = self._dispatch(rec, req)
        except Exception as exc:  # never let the handler die silently
            rec.errors.append(f"{type(exc).__name__}: {exc}")
            status, ctype, payload = 400, "text/plain", f"recorder error: {exc}\n".encode()
        rec._record(req)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _dispatch(self, rec: ScepRecorder, req: RecordedRequest) -> tuple[int, str, bytes]:
        op = (req.operation or "").lower()
        if op == "getcacaps":
            return 200, "text/plain", "".join(c + "\n" for c in rec.caps).encode()
        if op == "getcacert":
            return 200, rec.cacert_content_type, rec.cacert_body()
        if op == "pkioperation":
            if req.method == "POST":
                req.message, req.message_encoding = req.body, "post"
            else:
                raw = _raw_param(req.raw_query, "message")
                if raw is None:
                    return 400, "text/plain", b"PKIOperation without message\n"
                req.message, req.message_encoding = decode_scep_message_param(raw)
            return rec.pki_responder(req)
        return 404, "text/plain", f"unknown operation {req.operation!r}\n".encode()


class _RecorderHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins handler threads
    allow_reuse_address = True

    def __init__(self, recorder: ScepRecorder) -> None:
        self.recorder = recorder
        super().__init__(("127.0.0.1", 0), _Handler)


class ScepRecorder:
    """Recording SCEP endpoint; use as a context manager (returns itself).

    ``certs``: what GetCACert returns (NDES order: RA signing, RA encryption, CA).
    ``caps``: GetCACaps lines, served in this order (certmonger picks the first cipher listed).
    ``keep_cert_order``: hand-encode the degenerate PKCS#7 in the given order instead of
    ``serialize_certificates``' DER-sorted SET. ``cacert_content_type``: anything other than
    ``application/x-x509-ca-ra-cert`` serves the first certificate alone as DER.
    ``pki_responder(req) -> (status, content_type, body)`` answers PKIOperations (default: 500).

    Attributes once started: ``url`` (``http://127.0.0.1:PORT/cgi-bin/pkiclient.exe``),
    ``requests`` (every request, in arrival order), ``pki_operations`` (PKIOperation only).
    """

    def __init__(
        self,
        certs: Sequence[x509.Certificate],
        caps: Iterable[str] = DEFAULT_CAPS,
        *,
        cacert_content_type: str = RA_CERT_CONTENT_TYPE,
        keep_cert_order: bool = False,
        pki_responder: PkiResponder | None = None,
        path: str = "/cgi-bin/pkiclient.exe",
    ) -> None:
        if not certs:
            raise ValueError("ScepRecorder needs at least one certificate for GetCACert")
        self.certs = list(certs)
        self.caps = list(caps)
        self.cacert_content_type = cacert_content_type
        self.keep_cert_order = keep_cert_order
        self.pki_responder: PkiResponder = pki_responder or _default_pki_responder
        self.path = path
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []
        self.log: list[str] = []
        self._cond = threading.Condition()
        self._server: _RecorderHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- content -----------------------------------------------------------------------------
    def cacert_body(self) -> bytes:
        if self.cacert_content_type == RA_CERT_CONTENT_TYPE:
            return degenerate_pkcs7(self.certs, keep_order=self.keep_cert_order)
        return self.certs[0].public_bytes(Encoding.DER)

    @property
    def pki_operations(self) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if (r.operation or "").lower() == "pkioperation"]

    @property
    def operations(self) -> list[str | None]:
        with self._cond:
            return [r.operation for r in self.requests]

    def _record(self, req: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()

    def wait_for_pki_operation(self, count: int = 1, timeout: float = 30.0) -> RecordedRequest:
        """Block until ``count`` PKIOperations arrived; return the last one. TimeoutError else."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                ops = [r for r in self.requests if (r.operation or "").lower() == "pkioperation"]
                if len(ops) >= count:
                    return ops[count - 1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [f"{r.method} {r.operation}" for r in self.requests]
                    raise TimeoutError(
                        f"no PKIOperation #{count} within {timeout}s; requests seen: {seen}; "
                        f"recorder errors: {self.errors}"
                    )
                self._cond.wait(remaining)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ScepRecorder:
        if self._server is not None:
            return self
        self._server = _RecorderHTTPServer(self)
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}{self.path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scep-recorder-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> ScepRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
