"""Helpers for tests that play a managed device against the real auth (tokens from the cloud's
own token endpoint): create a device and profiles through the admin API, enrol the device (an
MDM certificate), then check in and report over the ASGI TLS extension."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from shared.pki import CsrSpec, KeySpec, LabCert, LabPki, build_csr, generate_key

from .admin_support import BASE, scep_body, trusted_body

INTUNE = "https://api.manage.microsoft.com//.default"
Json = dict[str, Any]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def created(response: httpx.Response) -> Json:
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


async def windows_profiles(
    client: httpx.AsyncClient, admin: dict[str, str], lab_pki: LabPki, **scep: Any
) -> tuple[str, str]:
    """The issuing CA as a Windows trusted profile and a SCEP profile naming it, through the
    admin API (unassigned): (trusted id, SCEP id)."""
    issuing = base64.b64encode(
        lab_pki.cert(LabCert.ISSUING_CA).public_bytes(serialization.Encoding.DER)
    ).decode()
    root = await created(
        await client.post(
            f"{BASE}/deviceConfigurations",
            json=trusted_body(lab_pki, "windows81", trustedRootCertificate=issuing),
            headers=admin,
        )
    )
    profile = await created(
        await client.post(
            f"{BASE}/deviceConfigurations",
            json=scep_body(str(root["id"]), **scep),
            headers=admin,
        )
    )
    return str(root["id"]), str(profile["id"])


async def assign(
    client: httpx.AsyncClient, admin: dict[str, str], profile_id: str, *groups: str
) -> None:
    body = {
        "assignments": [
            {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": g}}
            for g in groups
        ]
    }
    response = await client.post(
        f"{BASE}/deviceConfigurations/{profile_id}/assign", json=body, headers=admin
    )
    assert response.status_code == 200, response.text


async def mdm_certificate(
    client: httpx.AsyncClient, token: str, device_id: str
) -> x509.Certificate:
    key = generate_key(KeySpec("rsa", 2048))
    csr = build_csr(
        key, CsrSpec(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
    )
    response = await client.post(
        "/devices/enroll",
        headers=bearer(token),
        json={
            "deviceId": device_id,
            "certificateRequest": base64.b64encode(
                csr.public_bytes(serialization.Encoding.DER)
            ).decode(),
        },
    )
    assert response.status_code == 200, response.text
    return x509.load_der_x509_certificate(base64.b64decode(response.json()["certificate"]))


def with_client_cert(app: FastAPI, cert: x509.Certificate | None) -> httpx.AsyncClient:
    """A client whose requests carry `cert` as the TLS client certificate (ASGI extension)."""
    pem = cert.public_bytes(serialization.Encoding.PEM).decode() if cert else None

    async def tls_app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            scope = dict(scope, extensions={"tls": {"client_cert_chain": (pem,) if pem else ()}})
        await app(scope, receive, send)

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tls_app), base_url="https://cloud.test"
    )


@asynccontextmanager
async def enrolled(
    app: FastAPI, client: httpx.AsyncClient, token: str, device_id: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The device's mutual-TLS client, after MDM enrolment vouched for by `token`."""
    async with with_client_cert(app, await mdm_certificate(client, token, device_id)) as device:
        yield device


async def check_in(device: httpx.AsyncClient) -> Json:
    response = await device.post("/devices/checkin")
    assert response.status_code == 200, response.text
    answer: Json = response.json()
    return answer


async def report(device: httpx.AsyncClient, profile_id: str, state: str, **fields: object) -> None:
    response = await device.post(
        "/devices/status", json={"profileId": profile_id, "state": state, **fields}
    )
    assert response.status_code == 204, response.text


def scep_ids(answer: Json) -> list[str]:
    profiles = answer["scepProfiles"]
    assert isinstance(profiles, list)
    return [str(p["profileId"]) for p in profiles]
