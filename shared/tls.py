"""TLS plumbing every HTTPS party shares.

uvicorn verifies a client certificate when asked (`ssl_cert_reqs`, `ssl_ca_certs`) but hands the
application nothing about it. `TlsScopeH11Protocol` is uvicorn's h11 protocol that, once the
handshake is done, adds the ASGI TLS extension (`scope["extensions"]["tls"]`) to every request
of the connection, with the verified client certificate chain as PEM. Pass the class as
`uvicorn.Config(http=TlsScopeH11Protocol, ...)`. It leans on uvicorn internals (the protocol
reads `self.app` per request), hence the version pin in pyproject and an end-to-end test.

`client_certificate(scope)` reads the leaf back; `server_context(...)` and `client_context(...)`
build the ssl contexts for uvicorn and httpx.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from uvicorn.protocols.http.h11_impl import H11Protocol

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def _tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    peer = ssl_object.getpeercert(binary_form=True)
    chain = (ssl.DER_cert_to_PEM_cert(peer),) if peer else ()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": (
            x509.load_der_x509_certificate(peer).subject.rfc4514_string() if peer else None
        ),
        "client_cert_error": None,
        "tls_version": TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class TlsScopeH11Protocol(H11Protocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        tls = _tls_extension(ssl_object)
        inner = self.app

        async def app_with_tls(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions.setdefault("tls", tls)
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app_with_tls


def client_certificate(scope: Scope) -> x509.Certificate | None:
    """The verified client certificate of this request's connection, if it presented one."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or ()
    if not chain:
        return None
    return x509.load_pem_x509_certificate(chain[0].encode())


def server_context(
    cert_file: Path, key_file: Path, *, client_ca_file: Path | None = None
) -> ssl.SSLContext:
    """A TLS 1.2+ server context; with `client_ca_file`, client certificates are requested and
    verified against it (optional at the TLS layer: routes that need one refuse with 401).
    Certificate dates are left to the application's clock (the lab's clock may run ahead)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        context.verify_flags |= 0x200000  # X509_V_FLAG_NO_CHECK_TIME: dates by the lab clock
    return context


def client_context(
    ca_file: Path, *, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """An httpx client context trusting only `ca_file`, presenting a client certificate if given.
    Identity is per connection: after renewing the certificate, open a new client."""
    context = ssl.create_default_context(cafile=str(ca_file))
    if cert_file is not None:
        context.load_cert_chain(cert_file, key_file)
    return context


KEEP_ALIVE_SECONDS = 65
"""How long a party keeps an idle connection open (uvicorn's default is 5 s, which is also
httpx's: a client reusing a connection just as the server drops it gets "Server disconnected
without sending a response". IIS keeps 120 s; 65 s is above every client of the lab's.)"""


def uvicorn_tls_config(
    app: Any, *, host: str, port: int, context: ssl.SSLContext, log_level: str = "info"
) -> uvicorn.Config:
    """uvicorn serving `app` over `context` with `TlsScopeH11Protocol`, so that the verified
    client certificate reaches the app (`client_certificate(scope)`)."""
    factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]
    factory = lambda _config, _default: context  # noqa: E731
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=TlsScopeH11Protocol,
        ssl_context_factory=factory,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
