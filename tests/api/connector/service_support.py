"""Support for the connector service tests: the REAL cloud app in process (as the cloud's own
tests build it), a connector signed in through `/connector/enroll`, a cloud transport that plays
mutual TLS by putting the connector's identity certificate into the ASGI TLS extension (and can
be switched off to play "cloud down"), a seeded device with an assigned SCEP profile, and the
connector's local API driven with the policy module's client certificate."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from cloud_sim.challenges import IssuedChallenge, issue_challenge
from cloud_sim.settings import CloudSettings
from connector.app import create_app
from connector.cloud import enroll
from connector.settings import ConnectorSettings
from shared.clock import FixedClock
from shared.pki import (
    CertProfile,
    CsrSpec,
    KeySpec,
    LabCert,
    LabPki,
    PrivateKey,
    San,
    SanKind,
    build_csr,
    build_lab_pki,
    default_lab_spec,
    generate_key,
    issue_certificate,
    load_certificate_file,
    new_serial,
)
from tests.api.cloud_sim.admin_support import db, seed_windows_device
from tests.api.cloud_sim.identity_support import INTUNE_SCOPE, Lab, user_token

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def with_client_cert(app: object, cert: x509.Certificate | None) -> httpx.ASGITransport:
    """An ASGI transport to `app` whose requests carry `cert` in the ASGI TLS extension, as
    shared.tls's protocol puts it there after a real handshake."""
    pem = cert.public_bytes(serialization.Encoding.PEM).decode() if cert else None

    async def tls_app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            scope = dict(scope, extensions={"tls": {"client_cert_chain": (pem,) if pem else ()}})
        await app(scope, receive, send)  # type: ignore[operator]

    return httpx.ASGITransport(app=tls_app)


def with_identity_file(app: object, cert_path: Path) -> httpx.ASGITransport:
    """Like `with_client_cert`, but the certificate is read from `cert_path` at each request:
    what a TLS client built on the identity files presents after they changed."""

    async def tls_app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            pem = await asyncio.to_thread(cert_path.read_text)
            scope = dict(scope, extensions={"tls": {"client_cert_chain": (pem,)}})
        await app(scope, receive, send)  # type: ignore[operator]

    return httpx.ASGITransport(app=tls_app)


class SwitchableTransport(httpx.AsyncBaseTransport):
    """The cloud over mutual TLS (or another party), which a test may take down (every call:
    ConnectError). Records each call's path and body; `before`, if set, runs first (a test
    takes another party down in the middle of a pass with it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.calls: list[str] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.before: Callable[[httpx.Request], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        self.bodies.append((request.url.path, await request.aread()))
        if self.before is not None:
            self.before(request)
        if self.down:
            raise httpx.ConnectError("cloud down (test)", request=request)
        return await self.inner.handle_async_request(request)


def thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def self_signed(common_name: str) -> x509.Certificate:
    key = generate_key(KeySpec.ec())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return issue_certificate(
        subject=name,
        public_key=key.public_key(),
        issuer_cert=None,
        issuer_key=key,
        serial=new_serial(),
        not_before=NOW - dt.timedelta(days=1),
        profile=CertProfile(validity=dt.timedelta(days=365), ekus=("1.3.6.1.5.5.7.3.2",)),
    )


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    profile_id: str
    challenge: IssuedChallenge


def build_request(
    challenge: IssuedChallenge, *, subject: str | None = None
) -> tuple[str, PrivateKey]:
    """A CSR that carries the challenge and (unless `subject` says otherwise) matches it."""
    key = generate_key(KeySpec("rsa", challenge.key_size))
    spec = CsrSpec(
        subject=x509.Name.from_rfc4514_string(subject or challenge.subject),
        sans=tuple(San(cast(SanKind, kind), value) for kind, value in challenge.sans),
        ekus=challenge.ekus,
        key_usage=challenge.key_usage,  # type: ignore[arg-type]
        challenge_password=challenge.challenge,
    )
    der = build_csr(key, spec).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode(), key


def issue_for(lab_pki: LabPki, csr_b64: str, key: PrivateKey) -> x509.Certificate:
    """What the lab CA would issue for the request: the issued certificate NDES notifies."""
    csr = x509.load_der_x509_csr(base64.b64decode(csr_b64))
    return issue_certificate(
        subject=csr.subject,
        public_key=key.public_key(),
        issuer_cert=lab_pki.cert(LabCert.ISSUING_CA),
        issuer_key=lab_pki.key(LabCert.ISSUING_CA),
        serial=new_serial(),
        not_before=NOW,
        profile=CertProfile(validity=dt.timedelta(days=365), ekus=("1.3.6.1.5.5.7.3.2",)),
    )


async def seed_enrolment(app: FastAPI, lab: Lab, lab_pki: LabPki) -> Enrolment:
    """A device in a group with a trusted root and a SCEP profile assigned, and a challenge."""
    device_id, (profile_id,) = await seed_windows_device(
        app,
        lab.tenant.id,
        lab.user.id,
        lab.user.user_principal_name,
        lab_pki,
        device_name="LAPTOP-9",
    )
    async with db(app) as session:
        issued = await issue_challenge(
            session, app.state.cloud, lab.tenant.id, device_id, profile_id
        )
    return Enrolment(device_id, profile_id, issued)


@dataclass
class Rig:
    """The cloud, the connector signed in to it, and the connector's local API."""

    cloud: FastAPI
    connector: FastAPI
    local: httpx.AsyncClient
    transport: SwitchableTransport
    settings: ConnectorSettings
    module_cert: x509.Certificate


@pytest.fixture(name="lab_pki", scope="session")
def lab_pki_fixture(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    spec = default_lab_spec(b"connector-tests", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    return build_lab_pki(spec, tmp_path_factory.mktemp("connector-pki"))


@pytest.fixture(name="clock")
def clock_fixture() -> FixedClock:
    """One clock for the cloud and the connector (overrides the outbox tests' clock)."""
    return FixedClock(NOW)


@pytest.fixture(name="settings")
def settings_fixture(tmp_path: Path) -> CloudSettings:
    """The cloud's settings (the name identity_support's `app` fixture expects)."""
    return CloudSettings(
        data_dir=tmp_path / "cloud", tls=False, public_base_url="https://cloud.test"
    )


async def sign_in(app: FastAPI, lab: Lab, data_dir: Path) -> None:
    """Sign a connector in with an Intune administrator's token (through `enroll`, which writes
    the identity into `data_dir`)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://cloud.test"
    ) as admin:
        token = await user_token(admin, lab.intune_admin, scope=INTUNE_SCOPE)
    await enroll(
        "https://cloud.test",
        None,
        token,
        "NDES01.contoso.test",
        generate_key(KeySpec.rsa(2048)),
        data_dir=data_dir,
        transport=httpx.ASGITransport(app=app),
    )


@asynccontextmanager
async def start_connector(
    app: FastAPI,
    lab: Lab,
    clock: FixedClock,
    data_dir: Path,
    *,
    identity_from_file: bool = False,
    ca_transport: httpx.AsyncBaseTransport | None = None,
    **settings: object,
) -> AsyncIterator[Rig]:
    """Sign a connector in, then start it on that identity (`settings` override the
    connector's). With `identity_from_file`, the cloud sees the certificate the identity file
    holds at each call (renewal tests); else the one signed in with."""
    await sign_in(app, lab, data_dir)
    cert_path = data_dir / "identity.pem"
    inner = (
        with_identity_file(app, cert_path)
        if identity_from_file
        else with_client_cert(app, load_certificate_file(cert_path))
    )
    transport = SwitchableTransport(inner)
    module_cert = self_signed("ndes01.contoso.test")
    connector_settings = ConnectorSettings.model_validate(
        {
            "data_dir": data_dir,
            "cloud_url": "https://cloud.test",
            "outbox_poll_seconds": 0.02,
            "policy_module_thumbprints": [thumbprint(module_cert)],
            **settings,
        }
    )
    connector = create_app(
        connector_settings, cloud_transport=transport, ca_transport=ca_transport, clock=clock
    )
    async with (
        LifespanManager(connector),
        httpx.AsyncClient(
            transport=with_client_cert(connector, module_cert), base_url="https://connector.test"
        ) as local,
    ):
        yield Rig(app, connector, local, transport, connector_settings, module_cert)


@pytest.fixture(name="rig")
async def rig_fixture(
    app: FastAPI, lab: Lab, clock: FixedClock, tmp_path: Path
) -> AsyncIterator[Rig]:
    """A connector signed in to the cloud and started on that identity."""
    async with start_connector(app, lab, clock, tmp_path / "connector") as rig:
        yield rig
