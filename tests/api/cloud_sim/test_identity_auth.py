"""Bearer-token verification behind `cloud_sim.auth`'s dependencies (AdminCaller, ReaderCaller,
ScepProviderCaller), exercised through probe routes mounted on the app by identity_support."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy import update

from cloud_sim.app import create_app
from cloud_sim.context import CloudContext
from cloud_sim.domain.identity import User
from cloud_sim.identity_auth import SIGNING_KEY_FILE, TokenSigner, token_signer
from cloud_sim.settings import CloudSettings
from cloud_sim.store.identity import UserRow
from shared.clock import FixedClock
from shared.pki import KeySpec, LabPki, derive_key

from .identity_support import (  # noqa: F401  (fixtures)
    GRAPH_SCOPE,
    INTUNE_SCOPE,
    TENANT_ID,
    Lab,
    app_fixture,
    app_token,
    assert_graph_error,
    bearer,
    cheap_hashes_fixture,
    claims_of,
    lab_fixture,
    probe,
    user_token,
)


@pytest.mark.parametrize("scope", [GRAPH_SCOPE, INTUNE_SCOPE])
async def test_global_and_intune_administrators_may_write(
    client: httpx.AsyncClient, lab: Lab, scope: str
) -> None:
    for user in (lab.global_admin, lab.intune_admin):
        await assert_may_write(client, user, scope)


async def assert_may_write(client: httpx.AsyncClient, user: User, scope: str) -> None:
    token = await user_token(client, user, scope)

    for path in ("/probe/admin", "/probe/reader"):
        response = await client.get(path, headers=bearer(token))
        assert response.status_code == 200, response.text
        caller = response.json()
        assert caller["kind"] == "user"
        assert caller["object_id"] == user.id
        assert caller["tenant"] == TENANT_ID
        assert caller["name"] == user.user_principal_name
        assert caller["roles"] == sorted(str(role) for role in user.roles)


async def test_a_read_only_operator_may_read_but_not_write(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await user_token(client, lab.reader)

    assert (await client.get("/probe/reader", headers=bearer(token))).status_code == 200
    response = await client.get("/probe/admin", headers=bearer(token))
    message = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert message == "Insufficient privileges to complete the operation."


async def test_a_user_without_a_role_may_do_neither(client: httpx.AsyncClient, lab: Lab) -> None:
    token = await user_token(client, lab.user)

    for path in ("/probe/reader", "/probe/admin", "/probe/scep"):
        response = await client.get(path, headers=bearer(token))
        assert response.status_code in (401, 403)
    assert_graph_error(
        await client.get("/probe/admin", headers=bearer(token)), 403, "Authorization_RequestDenied"
    )


async def test_an_app_with_scep_challenge_provider_is_a_scep_provider(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await app_token(client, lab.scep_app.app_id, lab.scep_secret)

    response = await client.get("/probe/scep", headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "tenant": TENANT_ID,
        "object_id": lab.scep_app.object_id,
        "kind": "app",
        "name": "Lab SCEP server",
        "roles": [],
        "permissions": ["scep_challenge_provider"],
    }
    # an app is not an administrator, whatever it may do
    assert_graph_error(
        await client.get("/probe/reader", headers=bearer(token)), 403, "Authorization_RequestDenied"
    )


async def test_an_app_without_the_permission_is_refused(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await app_token(client, lab.graph_only_app.app_id, lab.graph_only_secret)

    response = await client.get("/probe/scep", headers=bearer(token))

    assert_graph_error(response, 403, "Authorization_RequestDenied")


async def test_the_scep_validation_api_wants_an_intune_token(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    graph_token = await app_token(client, lab.scep_app.app_id, lab.scep_secret, GRAPH_SCOPE)

    response = await client.get("/probe/scep", headers=bearer(graph_token))

    message = assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert "Invalid audience" in message
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_an_administrator_token_for_another_audience_is_refused(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    claims = claims_of(await user_token(client, lab.global_admin))
    forged = token_signer(app).sign(claims | {"aud": "https://vault.azure.net"})

    response = await client.get("/probe/reader", headers=bearer(forged))

    assert "Invalid audience" in assert_graph_error(response, 401, "InvalidAuthenticationToken")


async def test_a_token_expires_by_the_injected_clock(
    client: httpx.AsyncClient, lab: Lab, clock: FixedClock
) -> None:
    token = await app_token(client, lab.scep_app.app_id, lab.scep_secret)

    clock.advance(dt.timedelta(minutes=59, seconds=59))
    assert (await client.get("/probe/scep", headers=bearer(token))).status_code == 200
    clock.advance(dt.timedelta(seconds=1))
    response = await client.get("/probe/scep", headers=bearer(token))

    message = assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert message == "Lifetime validation failed, the token is expired."


async def test_a_token_is_not_valid_before_its_nbf(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    claims = claims_of(await app_token(client, lab.scep_app.app_id, lab.scep_secret))
    nbf = claims["nbf"]
    assert isinstance(nbf, int)
    early = token_signer(app).sign(claims | {"nbf": nbf + 60})

    response = await client.get("/probe/scep", headers=bearer(early))

    assert "not yet valid" in assert_graph_error(response, 401, "InvalidAuthenticationToken")


async def test_a_missing_or_malformed_token_is_unauthenticated(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    malformed = ["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer not-a-jwt", "Bearer a.b.c"]
    malformed += ["Bearer e30.e30.AAAA"]  # e30 = "{}": a JWT's shape, no kid, no signature
    for headers in [{}, *({"Authorization": value} for value in malformed)]:
        response = await client.get("/probe/reader", headers=headers)

        assert_graph_error(response, 401, "InvalidAuthenticationToken")


async def test_a_token_whose_claims_were_edited_fails_its_signature(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await user_token(client, lab.reader)
    header, _, signature = token.split(".")
    promoted = claims_of(token) | {"roles": ["Global Administrator"]}
    payload = base64.urlsafe_b64encode(json.dumps(promoted).encode()).rstrip(b"=").decode()

    response = await client.get("/probe/admin", headers=bearer(f"{header}.{payload}.{signature}"))

    message = assert_graph_error(response, 401, "InvalidAuthenticationToken")
    assert message == "Access token validation failure: signature validation failed."


async def test_a_token_signed_by_another_key_is_refused(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    claims = claims_of(await user_token(client, lab.global_admin))
    impostor = derive_key(KeySpec.rsa(2048), b"identity-tests", "impostor")
    assert isinstance(impostor, rsa.RSAPrivateKey)
    other = TokenSigner(impostor)

    response = await client.get("/probe/admin", headers=bearer(other.sign(claims)))

    assert "signing key was not found" in assert_graph_error(
        response, 401, "InvalidAuthenticationToken"
    )


FORGERIES = [  # claims changed in a token signed with the right key
    {"iss": "https://login.microsoftonline.com/4a1f3c2e-0b7d-4e59-9c61-2d8e5f7a9b10/v2.0"},
    {"tid": "00000000-0000-0000-0000-000000000001"},  # issuer no longer matches
    {
        "tid": "00000000-0000-0000-0000-000000000001",
        "iss": "https://cloud.test/00000000-0000-0000-0000-000000000001/v2.0",
    },  # a tenant that does not exist
    {"oid": "00000000-0000-0000-0000-000000000002"},  # a user that does not exist
]


async def test_issuer_tenant_and_principal_must_be_real(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    claims = claims_of(await user_token(client, lab.global_admin))
    for changes in FORGERIES:
        forged = token_signer(app).sign(claims | changes)

        response = await client.get("/probe/admin", headers=bearer(forged))

        assert_graph_error(response, 401, "InvalidAuthenticationToken")


async def test_a_disabled_administrator_is_refused_at_once(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await user_token(client, lab.global_admin)
    context: CloudContext = app.state.cloud
    async with context.sessions() as session, session.begin():
        disable = update(UserRow).where(UserRow.id == lab.global_admin.id)
        await session.execute(disable.values(account_enabled=False))

    response = await client.get("/probe/admin", headers=bearer(token))

    assert_graph_error(response, 401, "InvalidAuthenticationToken")


async def test_the_signing_key_is_made_on_first_use_kept_private_and_survives_a_restart(
    settings: CloudSettings, lab_pki: LabPki, clock: FixedClock, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"data_dir": tmp_path / "fresh"})
    key_file = settings.data_dir / SIGNING_KEY_FILE
    first = create_app(settings, pki=lab_pki, clock=clock)
    async with LifespanManager(first):
        signer = token_signer(first)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        token = signer.sign({"sub": "x"})
    second = create_app(settings, pki=lab_pki, clock=clock)
    async with LifespanManager(second):
        assert token_signer(second).read(token) == {"sub": "x"}
        assert token_signer(second).jwk == signer.jwk


async def test_without_the_graph_error_handler_status_and_challenge_still_hold(
    settings: CloudSettings, lab_pki: LabPki, clock: FixedClock
) -> None:
    plain = create_app(settings, pki=lab_pki, clock=clock)
    plain.include_router(probe)
    async with LifespanManager(plain):
        transport = httpx.ASGITransport(app=plain)
        async with httpx.AsyncClient(transport=transport, base_url="https://cloud.test") as http:
            response = await http.get("/probe/admin")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
