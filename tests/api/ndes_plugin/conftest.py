"""NDES in-process (ASGITransport + LifespanManager) against the fake CA (httpx.MockTransport)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from fastapi import FastAPI

from ndes_plugin.app import create_app
from ndes_plugin.policy import PolicyModule
from ndes_plugin.settings import NdesSettings
from shared import scep
from shared.clock import FixedClock
from shared.pki import (
    CertProfile,
    Eku,
    KeySpec,
    generate_key,
    issue_certificate,
    new_serial,
    write_certificate_file,
    write_private_key_file,
)
from tests.api.ndes_plugin.fakeca import CaPki, FakeCa
from tests.api.ndes_plugin.helpers import Device, Sent, b64, build, name, password_from, read

MSCEP = "/certsrv/mscep/mscep.dll"
ADMIN = ("ndes-admin", "admin-secret")
START = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def ca_pki() -> CaPki:
    root_key = generate_key(KeySpec.rsa(2048))
    issuing_key = generate_key(KeySpec.rsa(2048))
    not_before = START - dt.timedelta(days=1)
    ca = frozenset({"key_cert_sign", "crl_sign", "digital_signature"})
    root = issue_certificate(
        subject=name("Lab Root CA", "Lab"),
        public_key=root_key.public_key(),
        issuer_cert=None,
        issuer_key=root_key,
        serial=new_serial(),
        not_before=not_before,
        profile=CertProfile(validity=dt.timedelta(days=7300), key_usage=ca, is_ca=True),
    )
    issuing = issue_certificate(
        subject=name("Lab Issuing CA", "Lab"),
        public_key=issuing_key.public_key(),
        issuer_cert=root,
        issuer_key=root_key,
        serial=new_serial(),
        not_before=not_before,
        profile=CertProfile(validity=dt.timedelta(days=3650), key_usage=ca, is_ca=True),
    )
    return CaPki(root_key, root, issuing_key, issuing)


@pytest.fixture(scope="session")
def seeded_ra(ca_pki: CaPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RA files as NDES would have saved them, so most tests skip making two RSA keys."""
    folder = tmp_path_factory.mktemp("seeded-ra")
    for label, usage in (("ra-sign", "digital_signature"), ("ra-encrypt", "key_encipherment")):
        key = generate_key(KeySpec.rsa(2048))
        cert = issue_certificate(
            subject=name("NDES-MSCEP-RA", "Lab"),
            public_key=key.public_key(),
            issuer_cert=ca_pki.issuing,
            issuer_key=ca_pki.issuing_key,
            serial=new_serial(),
            not_before=START - dt.timedelta(days=1),
            profile=CertProfile(
                validity=dt.timedelta(days=730),
                key_usage=frozenset({usage}),  # type: ignore[arg-type]
                ekus=(Eku.CERTIFICATE_REQUEST_AGENT.value,),
            ),
        )
        write_private_key_file(folder / f"{label}.key.pem", key)
        write_certificate_file(folder / f"{label}.crt.pem", cert)
    return folder


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def fake_ca(ca_pki: CaPki, clock: FixedClock) -> FakeCa:
    return FakeCa(ca_pki, clock)


@dataclass
class Ndes:
    client: httpx.AsyncClient
    app: FastAPI
    ca: FakeCa
    clock: FixedClock
    settings: NdesSettings
    ca_certs: list[x509.Certificate]

    @property
    def ra_sign(self) -> x509.Certificate:
        return self.ca_certs[0]

    @property
    def ra_encrypt(self) -> x509.Certificate:
        return self.ca_certs[1]

    def device(self, index: int, cn: str = "device") -> Device:
        return Device.new(index, cn, self.clock.now())

    async def admin_page(self, auth: tuple[str, str] | None = ADMIN) -> httpx.Response:
        return await self.client.get("/certsrv/mscep_admin/", auth=auth)

    async def password(self) -> str:
        response = await self.admin_page()
        assert response.status_code == 200
        password = password_from(response.content)
        assert password is not None, response.content.decode("utf-16")
        return password

    def request(self, device: Device, csr_der: bytes, **kwargs: Any) -> Sent:
        return build(device, csr_der, [self.ra_encrypt], **kwargs)

    async def post(
        self, body: bytes, content_type: str | None = "application/x-pki-message"
    ) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return await self.client.post(
            f"{MSCEP}?operation=PKIOperation", content=body, headers=headers
        )

    async def get_message(self, message: str, path: str = MSCEP) -> httpx.Response:
        return await self.client.get(f"{path}?operation=PKIOperation&message={message}")

    async def send(self, sent: Sent, *, via: str = "POST") -> scep.CertRepResult:
        if via == "POST":
            response = await self.post(sent.der)
        else:
            response = await self.get_message(quote(b64(sent.der), safe=""))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == scep.PKI_MESSAGE
        return read(response.content, sent, self.ca_certs)

    async def enrol(self, device: Device, csr_der: bytes, **kwargs: Any) -> scep.CertRepResult:
        return await self.send(self.request(device, csr_der, **kwargs))


StartNdes = Callable[..., AbstractAsyncContextManager[Ndes]]


@pytest.fixture
def start_ndes(tmp_path: Path, seeded_ra: Path, fake_ca: FakeCa, clock: FixedClock) -> StartNdes:
    data_dir = tmp_path / "ndes"

    @asynccontextmanager
    async def start(
        seed: bool = True, policy_module: PolicyModule | None = None, **overrides: Any
    ) -> AsyncIterator[Ndes]:
        if seed and not data_dir.exists():
            shutil.copytree(seeded_ra, data_dir)
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "ca_url": "http://ca.test",
            "ca_admin_token": fake_ca.token,
            "admin_user": ADMIN[0],
            "admin_password": ADMIN[1],
            "ca_startup_wait_seconds": 0,
        }
        values.update(overrides)
        settings = NdesSettings(**values)
        app = create_app(
            settings, clock=clock, ca_transport=fake_ca.transport, policy=policy_module
        )
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://ndes.test"
            ) as client:
                response = await client.get(f"{MSCEP}?operation=GetCACert")
                certs = (
                    list(scep.parse_certs_only(response.content)[0])
                    if response.status_code == 200
                    else []
                )
                yield Ndes(client, app, fake_ca, clock, settings, certs)

    return start


@pytest.fixture
async def ndes(start_ndes: StartNdes) -> AsyncIterator[Ndes]:
    async with start_ndes() as running:
        yield running
