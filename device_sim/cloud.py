"""The device's side of the cloud: MDM enrolment (with a user's or an administrator's bearer
token), then check-in and state reports over mutual TLS with the MDM identity certificate."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.api.entra import INTUNE_SCOPE, password_grant, token_path
from shared.pki import CsrSpec, PrivateKey, build_csr
from shared.trace import Tracer

HttpFactory = Callable[[Path, Path], httpx.AsyncClient]
"""Builds the mutual-TLS client of the cloud from the identity's certificate and key files."""


class CloudRefused(Exception):
    """The cloud answered a device call with an error."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def mtls_factory(
    cloud_url: str, cloud_ca: Path, timeout: float = 30.0, trace_dir: Path | None = None
) -> HttpFactory:
    tracer = Tracer("device", trace_dir)

    def build(cert_file: Path, key_file: Path) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(cloud_ca))
        context.load_cert_chain(str(cert_file), str(key_file))
        transport = tracer.transport("cloud", verify=context)
        return httpx.AsyncClient(base_url=cloud_url, transport=transport, timeout=timeout)

    return build


async def sign_in(
    http: httpx.AsyncClient, tenant: str, upn: str, password: str, scope: str = INTUNE_SCOPE
) -> str:
    """A bearer token by the password grant (the lab's users and administrators)."""
    response = await http.post(token_path(tenant), data=password_grant(upn, password, scope))
    if response.status_code != 200:
        raise CloudRefused(f"sign-in refused: {response.text[:200]}", response.status_code)
    token: str = response.json()["access_token"]
    return token


async def enroll(
    http: httpx.AsyncClient, token: str, device_id: str, key: PrivateKey
) -> x509.Certificate:
    """MDM enrolment: `CN=<device id>` from the MDM Device CA for `key`."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, device_id)])
    der = build_csr(key, CsrSpec(subject=name)).public_bytes(serialization.Encoding.DER)
    response = await http.post(
        "/devices/enroll",
        json={"deviceId": device_id, "certificateRequest": base64.b64encode(der).decode()},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 200:
        raise CloudRefused(f"enrolment refused: {response.text[:200]}", response.status_code)
    return x509.load_der_x509_certificate(base64.b64decode(response.json()["certificate"]))


class DeviceCloud:
    """Check-in and state reports over one mutual-TLS client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def aclose(self) -> None:
        await self._http.aclose()

    async def checkin(self) -> dict[str, Any]:
        response = await self._http.post("/devices/checkin")
        if response.status_code != 200:
            raise CloudRefused(f"check-in refused: {response.text[:200]}", response.status_code)
        answer: dict[str, Any] = response.json()
        return answer

    async def report(self, profile_id: str, state: str, **fields: object) -> None:
        body: dict[str, object] = {"profileId": profile_id, "state": state}
        body |= {k: v for k, v in fields.items() if v is not None}
        response = await self._http.post("/devices/status", json=body)
        if response.status_code >= 300:
            raise CloudRefused(f"report refused: {response.text[:200]}", response.status_code)
