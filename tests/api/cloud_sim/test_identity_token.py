"""The token endpoint in Entra ID's shape: client credentials (the IRA library's grant), the
password grant (the lab's administrators), and each refusal with its AADSTS code."""

from __future__ import annotations

import base64
import uuid

import httpx
from fastapi import FastAPI

from cloud_sim.context import CloudContext
from cloud_sim.store.identity import create_tenant, directory

from .conftest import NOW
from .identity_support import (  # noqa: F401  (fixtures)
    DOMAIN,
    PASSWORD,
    PUBLIC_CLIENT,
    TENANT_ID,
    TOKEN_URL,
    Lab,
    app_fixture,
    assert_entra_error,
    cheap_hashes_fixture,
    claims_of,
    lab_fixture,
)

INTUNE = "https://api.manage.microsoft.com/"
GRAPH = "https://graph.microsoft.com"


def credentials(lab: Lab, **changes: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": lab.scep_app.app_id,
        "client_secret": lab.scep_secret,
        "scope": "https://api.manage.microsoft.com//.default",
    }
    return {name: value for name, value in (form | changes).items() if value != "-"}


def password_form(upn: str, **changes: str) -> dict[str, str]:
    form = {
        "grant_type": "password",
        "client_id": PUBLIC_CLIENT,
        "username": upn,
        "password": PASSWORD,
        "scope": "https://graph.microsoft.com/.default openid profile offline_access",
    }
    return {name: value for name, value in (form | changes).items() if value != "-"}


async def test_client_credentials_for_intune_as_the_ira_library_asks(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    response = await client.post(TOKEN_URL, data=credentials(lab))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "scope" not in body
    claims = claims_of(body["access_token"])
    now = int(NOW.timestamp())
    assert claims["aud"] == INTUNE
    assert claims["iss"] == f"https://cloud.test/{TENANT_ID}/v2.0"
    assert claims["tid"] == TENANT_ID
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 3600)
    assert claims["oid"] == claims["sub"] == lab.scep_app.object_id
    assert claims["azp"] == lab.scep_app.app_id
    assert claims["idtyp"] == "app"
    assert claims["roles"] == ["scep_challenge_provider"]  # not Graph's Application.Read.All


RESOURCES = [  # scope, the token's audience, its roles
    ("https://api.manage.microsoft.com/.default", INTUNE, ["scep_challenge_provider"]),
    ("0000000a-0000-0000-c000-000000000000/.default", INTUNE, ["scep_challenge_provider"]),
    ("https://graph.microsoft.com/.default", GRAPH, ["Application.Read.All"]),
    ("https://graph.microsoft.com//.default", GRAPH, ["Application.Read.All"]),
]


async def test_each_resource_gets_its_audience_and_its_own_roles(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    for scope, audience, roles in RESOURCES:
        response = await client.post(TOKEN_URL, data=credentials(lab, scope=scope))

        assert response.status_code == 200, (scope, response.text)
        claims = claims_of(response.json()["access_token"])
        assert (claims["aud"], claims["roles"]) == (audience, roles), scope


async def test_an_app_without_intune_permissions_gets_a_token_without_roles(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    form = credentials(
        lab, client_id=lab.graph_only_app.app_id, client_secret=lab.graph_only_secret
    )
    response = await client.post(TOKEN_URL, data=form)

    assert response.status_code == 200, response.text
    assert "roles" not in claims_of(response.json()["access_token"])


async def test_the_tenant_may_be_named_by_its_domain(client: httpx.AsyncClient, lab: Lab) -> None:
    for name in (DOMAIN, DOMAIN.upper(), TENANT_ID.upper()):
        response = await client.post(f"/{name}/oauth2/v2.0/token", data=credentials(lab))

        assert response.status_code == 200, (name, response.text)
        claims = claims_of(response.json()["access_token"])
        assert claims["tid"] == TENANT_ID
        assert claims["iss"] == f"https://cloud.test/{TENANT_ID}/v2.0"


async def test_client_secret_basic_is_accepted(client: httpx.AsyncClient, lab: Lab) -> None:
    basic = base64.b64encode(f"{lab.scep_app.app_id}:{lab.scep_secret}".encode()).decode()
    form = credentials(lab, client_id="-", client_secret="-")

    response = await client.post(TOKEN_URL, data=form, headers={"Authorization": f"Basic {basic}"})

    assert response.status_code == 200, response.text


CLIENT_REFUSALS = [  # changes to a good request, then the answer: HTTP status, error, AADSTS
    ({"client_secret": "not-the-secret"}, 401, "invalid_client", 7000215),
    ({"client_secret": "-"}, 401, "invalid_client", 7000216),
    ({"client_id": str(uuid.UUID(int=7))}, 400, "unauthorized_client", 700016),
    ({"client_id": "not-a-guid"}, 400, "unauthorized_client", 700016),
    ({"client_id": "-"}, 400, "invalid_request", 900144),
    ({"grant_type": "-"}, 400, "invalid_request", 900144),
    ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type", 70003),
    ({"scope": "-"}, 400, "invalid_request", 900144),
    ({"scope": "https://graph.microsoft.com/User.Read"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://vault.azure.net/.default"}, 400, "invalid_resource", 500011),
    ({"scope": f"{GRAPH}/.default {INTUNE}.default"}, 400, "invalid_scope", 28000),
]


async def test_client_credentials_refusals(client: httpx.AsyncClient, lab: Lab) -> None:
    for changes, status, error, code in CLIENT_REFUSALS:
        response = await client.post(
            TOKEN_URL, data=credentials(lab, **changes), headers={"client-request-id": "req-42"}
        )

        assert_entra_error(response, status, error, code)
        assert response.json()["correlation_id"] == "req-42"
        assert "access_token" not in response.json()


async def test_an_unknown_tenant_is_refused(client: httpx.AsyncClient, lab: Lab) -> None:
    for tenant in (str(uuid.UUID(int=1)), "fabrikam.onmicrosoft.com"):
        response = await client.post(f"/{tenant}/oauth2/v2.0/token", data=credentials(lab))

        assert_entra_error(response, 400, "invalid_request", 90002)
        assert f"Tenant '{tenant}' not found" in response.json()["error_description"]


async def test_an_app_of_another_tenant_is_unknown_here(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    context: CloudContext = app.state.cloud
    async with context.sessions() as session, session.begin():
        await create_tenant(session, display_name="Fabrikam", default_domain="fabrikam.com")

    response = await client.post("/fabrikam.com/oauth2/v2.0/token", data=credentials(lab))

    assert_entra_error(response, 400, "unauthorized_client", 700016)
    assert "'fabrikam.com'" in response.json()["error_description"]


async def test_a_json_body_is_not_a_token_request(client: httpx.AsyncClient, lab: Lab) -> None:
    response = await client.post(TOKEN_URL, json=credentials(lab))

    assert_entra_error(response, 400, "invalid_request", 900144)


async def test_password_grant_for_an_administrator(client: httpx.AsyncClient, lab: Lab) -> None:
    upn = lab.intune_admin.user_principal_name.upper()  # UPNs ignore case

    response = await client.post(TOKEN_URL, data=password_form(upn))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"].startswith("https://graph.microsoft.com/DeviceManagementConfiguration")
    claims = claims_of(body["access_token"])
    assert claims["aud"] == GRAPH
    assert claims["idtyp"] == "user"
    assert claims["oid"] == lab.intune_admin.id
    assert claims["upn"] == lab.intune_admin.user_principal_name
    assert claims["azp"] == PUBLIC_CLIENT
    assert claims["roles"] == ["Intune Administrator"]
    assert claims["wids"] == [
        "b79fbf4d-3ef9-4689-8143-76b194e85509",  # every member's default user role
        "3a2c62db-5318-420d-8d74-23affee5d9d5",  # Intune Administrator's role template
    ]
    assert "DeviceManagementManagedDevices.ReadWrite.All" in str(claims["scp"]).split()


async def test_password_grant_for_a_user_without_roles(client: httpx.AsyncClient, lab: Lab) -> None:
    form = password_form(
        lab.user.user_principal_name, scope="https://graph.microsoft.com/User.Read"
    )

    response = await client.post(TOKEN_URL, data=form)

    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert "roles" not in claims
    assert claims["wids"] == ["b79fbf4d-3ef9-4689-8143-76b194e85509"]
    assert claims["scp"] == "User.Read"
    assert response.json()["scope"] == "https://graph.microsoft.com/User.Read"


async def test_password_grant_for_intune(client: httpx.AsyncClient, lab: Lab) -> None:
    form = password_form(
        lab.global_admin.user_principal_name, scope="https://api.manage.microsoft.com//.default"
    )

    response = await client.post(TOKEN_URL, data=form)

    assert response.status_code == 200, response.text
    claims = claims_of(response.json()["access_token"])
    assert (claims["aud"], claims["scp"]) == (INTUNE, "user_impersonation")


PASSWORD_REFUSALS = [  # username, changes to a good request, AADSTS code (all invalid_grant)
    ("ivan@contoso.onmicrosoft.com", {"password": "wrong"}, 50126),
    ("ulla@contoso.onmicrosoft.com", {"password": "wrong"}, 50126),
    ("nobody@contoso.onmicrosoft.com", {}, 50034),
    ("off@contoso.onmicrosoft.com", {}, 50057),
]


async def test_password_grant_refusals(app: FastAPI, client: httpx.AsyncClient, lab: Lab) -> None:
    context: CloudContext = app.state.cloud
    async with context.sessions() as session, session.begin():
        users = await directory(session, TENANT_ID)
        await users.create_user(
            user_principal_name="off@contoso.onmicrosoft.com",
            display_name="Left the company",
            password=PASSWORD,
            account_enabled=False,
        )

    for upn, changes, code in PASSWORD_REFUSALS:
        response = await client.post(TOKEN_URL, data=password_form(upn, **changes))

        assert_entra_error(response, 400, "invalid_grant", code)


async def test_password_grant_needs_each_parameter(client: httpx.AsyncClient, lab: Lab) -> None:
    for missing in ("client_id", "username", "password", "scope"):
        form = password_form(lab.intune_admin.user_principal_name, **{missing: "-"})

        response = await client.post(TOKEN_URL, data=form)

        assert_entra_error(response, 400, "invalid_request", 900144)
        assert f"'{missing}'" in response.json()["error_description"]


async def test_a_user_without_a_password_cannot_sign_in(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    context: CloudContext = app.state.cloud
    async with context.sessions() as session, session.begin():
        users = await directory(session, TENANT_ID)
        device_user = await users.create_user(
            user_principal_name="kiosk@contoso.onmicrosoft.com", display_name="Kiosk"
        )

    response = await client.post(TOKEN_URL, data=password_form(device_user.user_principal_name))

    assert_entra_error(response, 400, "invalid_grant", 50126)
