"""Fixtures and helpers for the identity tests: a seeded tenant (administrators of each role, a
plain user, two app registrations), token requests, and the cloud app with the Graph error
handler and a probe router that exercises `cloud_sim.auth`'s dependencies.

Import the fixtures into a test module to use them: `from .identity_support import
app_fixture, cheap_hashes_fixture, lab_fixture` (registered as `app`, `cheap_hashes`, `lab`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI

from cloud_sim import identity_auth
from cloud_sim.app import create_app
from cloud_sim.auth import AdminCaller, Principal, ReaderCaller, ScepProviderCaller
from cloud_sim.context import CloudContext
from cloud_sim.domain import identity as domain
from cloud_sim.domain.identity import AppRegistration, Tenant, User
from cloud_sim.settings import CloudSettings
from cloud_sim.store.identity import create_tenant, directory
from shared.clock import FixedClock
from shared.pki import KeySpec, LabPki, derive_key, write_private_key_file

TENANT_ID = "4a1f3c2e-0b7d-4e59-9c61-2d8e5f7a9b10"
DOMAIN = "contoso.onmicrosoft.com"
PASSWORD = "Pa55w.rd-for-the-lab"
PUBLIC_CLIENT = "d1ddf0e4-d672-4dae-b554-9d5bdfd93547"  # Microsoft Intune PowerShell
INTUNE_SCOPE = "https://api.manage.microsoft.com//.default"  # as the IRA library sends it
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TOKEN_URL = f"/{TENANT_ID}/oauth2/v2.0/token"

probe = APIRouter()


@probe.get("/probe/admin")
async def probe_admin(caller: AdminCaller) -> dict[str, object]:
    return _describe(caller)


@probe.get("/probe/reader")
async def probe_reader(caller: ReaderCaller) -> dict[str, object]:
    return _describe(caller)


@probe.get("/probe/scep")
async def probe_scep(caller: ScepProviderCaller) -> dict[str, object]:
    return _describe(caller)


def _describe(caller: Principal) -> dict[str, object]:
    return {
        "tenant": caller.tenant_id,
        "object_id": caller.object_id,
        "kind": caller.kind,
        "name": caller.name,
        "roles": sorted(caller.roles),
        "permissions": sorted(caller.permissions),
    }


@pytest.fixture(name="cheap_hashes", autouse=True)
def cheap_hashes_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at N=2^8 instead of 2^14: the tests hash dozens of secrets. The stored format
    carries its parameters, so verification follows; test_identity_store checks the default."""
    monkeypatch.setattr(domain, "_SCRYPT", (2**8, 8, 1))


@pytest.fixture(name="app")
async def app_fixture(
    settings: CloudSettings, lab_pki: LabPki, clock: FixedClock
) -> AsyncIterator[FastAPI]:
    """The cloud (overrides conftest's), with Graph-shaped errors and the probe routes. Its
    token-signing key is put in place first: one key for the session rather than one per test
    (test_identity_auth covers making it)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = derive_key(KeySpec.rsa(2048), b"identity-tests", "token-signing")
    write_private_key_file(settings.data_dir / identity_auth.SIGNING_KEY_FILE, key)
    application = create_app(settings, pki=lab_pki, clock=clock)
    identity_auth.install_error_handler(application)
    application.include_router(probe)
    async with LifespanManager(application):
        yield application


@dataclass(frozen=True)
class Lab:
    tenant: Tenant
    global_admin: User
    intune_admin: User
    reader: User
    user: User
    scep_app: AppRegistration
    scep_secret: str
    graph_only_app: AppRegistration  # Application.Read.All, no Intune permission
    graph_only_secret: str


@pytest.fixture(name="lab")
async def lab_fixture(app: FastAPI) -> Lab:
    context: CloudContext = app.state.cloud
    async with context.sessions() as session, session.begin():
        tenant = await create_tenant(
            session, display_name="Contoso", default_domain=DOMAIN, tenant_id=TENANT_ID
        )
        users = await directory(session, tenant.id)

        async def person(name: str, *roles: str) -> User:
            upn = f"{name}@{DOMAIN}"
            return await users.create_user(
                user_principal_name=upn, display_name=name, password=PASSWORD, roles=roles
            )

        scep_app, scep_secret = await users.create_app_registration(
            "Lab SCEP server", permissions=["scep_challenge_provider", "Application.Read.All"]
        )
        graph_app, graph_secret = await users.create_app_registration(
            "Unconsented SCEP server", permissions=["Application.Read.All"]
        )
        return Lab(
            tenant=tenant,
            global_admin=await person("gina", "Global Administrator"),
            intune_admin=await person("ivan", "Intune Administrator"),
            reader=await person("rita", "Read Only Operator"),
            user=await person("ulla"),
            scep_app=scep_app,
            scep_secret=scep_secret,
            graph_only_app=graph_app,
            graph_only_secret=graph_secret,
        )


async def app_token(
    client: httpx.AsyncClient, app_id: str, secret: str, scope: str = INTUNE_SCOPE
) -> str:
    response = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": app_id,
            "client_secret": secret,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def user_token(client: httpx.AsyncClient, user: User, scope: str = GRAPH_SCOPE) -> str:
    response = await client.post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "client_id": PUBLIC_CLIENT,
            "username": user.user_principal_name,
            "password": PASSWORD,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, object]:
    """The payload of a JWT, unverified (the tests that verify use the JWKS)."""
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def assert_entra_error(response: httpx.Response, status: int, error: str, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in body["error_description"]
    assert "Timestamp: 2026-11-01 09:00:00Z" in body["error_description"]


def assert_graph_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    return str(error["message"])
