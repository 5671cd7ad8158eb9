"""The connector's identity key pair: written atomically where the settings say, checked at
start-up (a key that does not belong to the certificate stops the start, naming both files),
and — after a renewal — presented on the next real TLS connection once `reload_identity` ran."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from pydantic import SecretStr, ValidationError

from connector.__main__ import main
from connector.app import create_app
from connector.cloud import CloudClient
from connector.identity import check_identity, write_identity
from connector.settings import ConnectorSettings
from shared.pki import (
    CertProfile,
    KeyFileError,
    KeySpec,
    PrivateKey,
    San,
    generate_key,
    issue_certificate,
    load_certificate_file,
    load_private_key_file,
    new_serial,
    write_certificate_file,
)

CLIENT_AUTH, SERVER_AUTH = "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.1"


def _name(cn: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(f"CN={cn}")


@dataclass(frozen=True)
class Ca:
    cert: x509.Certificate
    key: PrivateKey

    @classmethod
    def new(cls, cn: str) -> Ca:
        key = generate_key(KeySpec.ec())
        cert = issue_certificate(
            subject=_name(cn),
            public_key=key.public_key(),
            issuer_cert=None,
            issuer_key=key,
            serial=new_serial(),
            not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            profile=CertProfile(validity=dt.timedelta(days=30), is_ca=True),
        )
        return cls(cert, key)

    def issue(
        self, cn: str, key: PrivateKey, eku: str, sans: tuple[San, ...] = ()
    ) -> x509.Certificate:
        return issue_certificate(
            subject=_name(cn),
            public_key=key.public_key(),
            issuer_cert=self.cert,
            issuer_key=self.key,
            serial=new_serial(),
            not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),  # real TLS: real time
            profile=CertProfile(validity=dt.timedelta(days=30), ekus=(eku,)),
            sans=sans,
        )


@dataclass
class TlsServer:
    """A bare HTTPS server on 127.0.0.1 that asks for a client certificate and records the
    serial number of the one each connection presented."""

    url: str
    ca_file: Path
    client_ca: Ca
    seen: list[int]


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[TlsServer]:
    server_ca, client_ca = Ca.new("TLS Root"), Ca.new("Connector CA")
    server_key = generate_key(KeySpec.ec())
    server_cert = server_ca.issue("127.0.0.1", server_key, SERVER_AUTH, (San("ip", "127.0.0.1"),))
    paths = {name: tmp_path / f"{name}.pem" for name in ("root", "client-ca", "server")}
    write_certificate_file(paths["root"], server_ca.cert)
    write_certificate_file(paths["client-ca"], client_ca.cert)
    write_identity(tmp_path, server_key, server_cert, cert_path=paths["server"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths["server"], tmp_path / "identity.key")
    context.load_verify_locations(cafile=paths["client-ca"])
    context.verify_mode = ssl.CERT_OPTIONAL
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        seen.append(x509.load_der_x509_certificate(peer).serial_number if peer else 0)
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield TlsServer(f"https://127.0.0.1:{port}", paths["root"], client_ca, seen)
    finally:
        server.close()
        await server.wait_closed()


async def test_after_reload_the_next_connection_presents_the_new_certificate(
    tls_server: TlsServer, tmp_path: Path
) -> None:
    data = tmp_path / "connector"
    settings = ConnectorSettings(
        data_dir=data, cloud_url=tls_server.url, cloud_ca_path=tls_server.ca_file
    )
    old_key, new_key = generate_key(KeySpec.rsa(2048)), generate_key(KeySpec.rsa(2048))
    old = tls_server.client_ca.issue("connector-1", old_key, CLIENT_AUTH)
    new = tls_server.client_ca.issue("connector-1", new_key, CLIENT_AUTH)
    write_identity(data, old_key, old)
    cloud = CloudClient.from_settings(settings)
    try:
        await cloud.heartbeat("1.0")
        write_identity(data, new_key, new)  # what the renewal writes
        await cloud.heartbeat("1.0")  # a client keeps the identity it was built with
        await cloud.reload_identity(settings)
        await cloud.heartbeat("1.0")
    finally:
        await cloud.aclose()
    assert tls_server.seen == [old.serial_number, old.serial_number, new.serial_number]


def _pair() -> tuple[PrivateKey, x509.Certificate]:
    ca = Ca.new("Connector CA")
    key = generate_key(KeySpec.ec())
    return key, ca.issue("connector-1", key, CLIENT_AUTH)


def test_write_identity_writes_where_asked_with_a_private_key_file(tmp_path: Path) -> None:
    key, cert = _pair()
    key_path, cert_path = tmp_path / "keys" / "id.key", tmp_path / "certs" / "id.pem"
    write_identity(tmp_path / "data", key, cert, key_path=key_path, cert_path=cert_path)
    assert load_certificate_file(cert_path) == cert
    assert load_private_key_file(key_path).public_key() == key.public_key()
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert cert_path.stat().st_mode & 0o777 == 0o644
    assert not (tmp_path / "data" / "identity.pem").exists()


def test_a_failed_write_leaves_the_old_identity_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key, old_cert = _pair()
    write_identity(tmp_path, old_key, old_cert)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    new_key, new_cert = _pair()
    calls = 0
    real_fsync = os.fsync

    def fsync_fails_second(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:  # the certificate's: the key is written, nothing renamed yet
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_second)
    with pytest.raises(OSError, match="No space"):
        write_identity(tmp_path, new_key, new_cert)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def _settings(tmp_path: Path) -> ConnectorSettings:
    return ConnectorSettings(data_dir=tmp_path, cloud_url="https://cloud.test")


def _mismatched(tmp_path: Path) -> ConnectorSettings:
    _, cert = _pair()
    other_key, _ = _pair()
    write_identity(tmp_path, other_key, cert)
    return _settings(tmp_path)


def test_check_identity_names_the_files_that_do_not_match(tmp_path: Path) -> None:
    settings = _mismatched(tmp_path)
    with pytest.raises(KeyFileError) as caught:
        check_identity(settings)
    message = str(caught.value)
    assert str(settings.effective_identity_key_path) in message
    assert str(settings.effective_identity_cert_path) in message
    assert "does not match" in message


def test_check_identity_names_a_missing_key_file(tmp_path: Path) -> None:
    key, cert = _pair()
    write_identity(tmp_path, key, cert)
    settings = _settings(tmp_path)
    settings.effective_identity_key_path.unlink()
    with pytest.raises(KeyFileError, match=r"identity\.key: private key file not found"):
        check_identity(settings)


async def test_the_app_does_not_start_on_a_mismatched_identity(tmp_path: Path) -> None:
    app = create_app(_mismatched(tmp_path))
    with pytest.raises(KeyFileError, match="does not match"):
        async with LifespanManager(app):
            pass


def test_main_says_which_files_do_not_match_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _mismatched(tmp_path)
    for name in [n for n in os.environ if n.startswith("CONNECTOR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(tmp_path))
    assert main([]) == 2
    error = capsys.readouterr().err
    assert "does not match" in error
    assert str(settings.effective_identity_key_path) in error


def test_a_ca_url_needs_the_ca_token() -> None:
    with pytest.raises(ValidationError, match="CONNECTOR_CA_ADMIN_TOKEN"):
        ConnectorSettings(ca_url="http://ca.test")
    settings = ConnectorSettings(ca_url="http://ca.test", ca_admin_token=SecretStr("s3cret"))
    assert "s3cret" not in repr(settings)
