"""shared.tls against a real uvicorn on 127.0.0.1: the verified client certificate reaches the
app through the ASGI TLS extension; a certificate from another CA is refused in the handshake;
dates are left to the application (the lab clock may run ahead of the real one)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request

from lab.procs import free_port
from shared.pki import CertProfile, KeySpec, generate_key, issue_certificate, new_serial
from shared.tls import TlsScopeH11Protocol, client_certificate, client_context, server_context

pytestmark = pytest.mark.e2e
NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(
    folder: Path, stem: str, cert: x509.Certificate, key: object = None
) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path.write_bytes(
            key.private_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def _ca(cn: str) -> tuple[x509.Certificate, object]:
    key = generate_key(KeySpec("rsa", 2048))
    cert = issue_certificate(
        subject=_name(cn),
        public_key=key.public_key(),
        issuer_cert=None,
        issuer_key=key,
        serial=new_serial(),
        not_before=NOW - dt.timedelta(days=1),
        profile=CertProfile(validity=dt.timedelta(days=30), is_ca=True),
    )
    return cert, key


def _leaf(
    cn: str,
    ca: tuple[x509.Certificate, object],
    *,
    not_before: dt.datetime,
    days: int,
    server: bool = False,
) -> tuple[x509.Certificate, object]:
    key = generate_key(KeySpec("rsa", 2048))
    eku = "1.3.6.1.5.5.7.3.1" if server else "1.3.6.1.5.5.7.3.2"
    cert = issue_certificate(
        subject=_name(cn),
        public_key=key.public_key(),
        issuer_cert=ca[0],
        issuer_key=ca[1],  # type: ignore[arg-type]
        serial=new_serial(),
        not_before=not_before,
        profile=CertProfile(validity=dt.timedelta(days=days), ekus=(eku,)),
        sans=(("dns", "localhost"), ("ip", "127.0.0.1")) if server else (),
    )
    return cert, key


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path, dict[str, object]]]:
    folder = tmp_path_factory.mktemp("tls")
    tls_root, client_ca = _ca("TLS root"), _ca("Client CA")
    server_cert, server_key = _write(
        folder,
        "server",
        *_leaf("localhost", tls_root, not_before=NOW - dt.timedelta(days=1), days=30, server=True),
    )
    root_path, _ = _write(folder, "root", tls_root[0])
    client_ca_path, _ = _write(folder, "client-ca", client_ca[0])
    clients = {
        "good": _write(
            folder,
            "good",
            *_leaf("connector-1", client_ca, not_before=NOW - dt.timedelta(days=1), days=30),
        ),
        "expired": _write(
            folder,
            "expired",
            *_leaf("connector-2", client_ca, not_before=NOW - dt.timedelta(days=60), days=30),
        ),
        "foreign": _write(
            folder,
            "foreign",
            *_leaf("intruder", _ca("Other CA"), not_before=NOW - dt.timedelta(days=1), days=30),
        ),
    }
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str | None]:
        cert = client_certificate(request.scope)
        return {
            "subject": cert.subject.rfc4514_string() if cert else None,
            "notAfter": cert.not_valid_after_utc.isoformat() if cert else None,
        }

    context = server_context(server_cert, server_key, client_ca_file=client_ca_path)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        http=TlsScopeH11Protocol,
        ssl_context_factory=lambda _c, _d: context,
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    try:
        yield f"https://127.0.0.1:{port}", root_path, clients
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def _get(url: str, root: Path, client: tuple[Path, Path] | None) -> httpx.Response:
    context = client_context(
        root, cert_file=client[0] if client else None, key_file=client[1] if client else None
    )
    with httpx.Client(verify=context, timeout=10) as http:
        return http.get(f"{url}/whoami")


def test_the_verified_client_certificate_reaches_the_app(
    server: tuple[str, Path, dict[str, object]],
) -> None:
    url, root, clients = server
    body = _get(url, root, clients["good"]).json()  # type: ignore[arg-type]
    assert body["subject"] == "CN=connector-1"


def test_no_client_certificate_is_none(server: tuple[str, Path, dict[str, object]]) -> None:
    url, root, _ = server
    assert _get(url, root, None).json() == {"subject": None, "notAfter": None}


def test_an_expired_certificate_passes_tls_and_the_app_sees_its_dates(
    server: tuple[str, Path, dict[str, object]],
) -> None:
    url, root, clients = server
    body = _get(url, root, clients["expired"]).json()  # type: ignore[arg-type]
    assert body["subject"] == "CN=connector-2"
    assert dt.datetime.fromisoformat(body["notAfter"]) < NOW


def test_a_certificate_from_another_ca_is_refused_in_the_handshake(
    server: tuple[str, Path, dict[str, object]],
) -> None:
    url, root, clients = server
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        _get(url, root, clients["foreign"])  # type: ignore[arg-type]
