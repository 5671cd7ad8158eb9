"""Discovery: Graph's service endpoints of Intune (what the IRA library looks up), the JWKS that
verifies the cloud's tokens, and the OpenID configuration."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI

from cloud_sim.context import CloudContext
from cloud_sim.store.identity import directory

from .identity_support import (  # noqa: F401  (fixtures)
    DOMAIN,
    GRAPH_SCOPE,
    INTUNE_SCOPE,
    TENANT_ID,
    Lab,
    app_fixture,
    app_token,
    assert_entra_error,
    assert_graph_error,
    bearer,
    cheap_hashes_fixture,
    lab_fixture,
    user_token,
)

ENDPOINTS = "/v1.0/servicePrincipals/appId=0000000a-0000-0000-c000-000000000000/endpoints"


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_discovery_lists_the_two_services_where_the_validation_api_lives(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await app_token(client, lab.scep_app.app_id, lab.scep_secret, GRAPH_SCOPE)

    response = await client.get(
        ENDPOINTS, headers=bearer(token) | {"client-request-id": str(uuid.uuid4())}
    )

    assert response.status_code == 200, response.text
    value = response.json()["value"]
    # what the IRA library does with it: lower-cased providerName -> uri
    services = {endpoint["providerName"].lower(): endpoint["uri"] for endpoint in value}
    assert services == {
        "sceprequestvalidationfeservice": "https://cloud.test/RACerts/ScepRequestValidationFEService",
        "pkiconnectorfeservice": "https://cloud.test/RACerts/PkiConnectorFEService",
    }
    for endpoint in value:
        assert set(endpoint) == {
            "id",
            "capability",
            "providerId",
            "providerName",
            "providerResourceId",
            "uri",
        }


async def test_without_intune_consent_the_services_are_not_listed(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    """IRA issue #85: the library then fails with "Did not find service named ..."."""
    token = await app_token(client, lab.graph_only_app.app_id, lab.graph_only_secret, GRAPH_SCOPE)

    response = await client.get(ENDPOINTS, headers=bearer(token))

    assert response.status_code == 200, response.text
    assert response.json()["value"] == []


async def test_without_application_read_all_discovery_is_denied(
    app: FastAPI, client: httpx.AsyncClient, lab: Lab
) -> None:
    context: CloudContext = app.state.cloud
    async with context.sessions() as session, session.begin():
        users = await directory(session, TENANT_ID)
        intune_only, secret = await users.create_app_registration(
            "Half-consented", permissions=["scep_challenge_provider"]
        )
    token = await app_token(client, intune_only.app_id, secret, GRAPH_SCOPE)

    response = await client.get(ENDPOINTS, headers=bearer(token))

    message = assert_graph_error(response, 403, "Authorization_RequestDenied")
    assert message == "Insufficient privileges to complete the operation."


async def test_discovery_wants_a_graph_token(client: httpx.AsyncClient, lab: Lab) -> None:
    intune_token = await app_token(client, lab.scep_app.app_id, lab.scep_secret, INTUNE_SCOPE)

    assert_graph_error(await client.get(ENDPOINTS), 401, "InvalidAuthenticationToken")
    response = await client.get(ENDPOINTS, headers=bearer(intune_token))
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


async def test_discovery_of_another_service_principal_is_not_found(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    token = await app_token(client, lab.scep_app.app_id, lab.scep_secret, GRAPH_SCOPE)
    other = ENDPOINTS.replace("0000000a", "00000003")

    response = await client.get(other, headers=bearer(token))

    assert_graph_error(response, 404, "Request_ResourceNotFound")


async def test_the_jwks_verifies_the_tokens_signature(client: httpx.AsyncClient, lab: Lab) -> None:
    token = await user_token(client, lab.global_admin)
    header_b64, payload_b64, signature_b64 = token.split(".")

    response = await client.get(f"/{TENANT_ID}/discovery/v2.0/keys")

    assert response.status_code == 200
    (jwk,) = response.json()["keys"]
    assert (jwk["kty"], jwk["use"], jwk["alg"]) == ("RSA", "sig", "RS256")
    assert jwk["issuer"] == f"https://cloud.test/{TENANT_ID}/v2.0"
    header = json.loads(unb64(header_b64))
    assert header == {"typ": "JWT", "alg": "RS256", "kid": jwk["kid"]}
    numbers = rsa.RSAPublicNumbers(
        e=int.from_bytes(unb64(jwk["e"]), "big"), n=int.from_bytes(unb64(jwk["n"]), "big")
    )
    numbers.public_key().verify(  # raises InvalidSignature if it does not verify
        unb64(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


async def test_the_openid_configuration_points_at_this_cloud(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    response = await client.get(f"/{DOMAIN}/v2.0/.well-known/openid-configuration")

    assert response.status_code == 200
    config = response.json()
    base = f"https://cloud.test/{TENANT_ID}"
    assert config["issuer"] == f"{base}/v2.0"
    assert config["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert config["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = await client.get(config["jwks_uri"].removeprefix("https://cloud.test"))
    assert keys.status_code == 200


async def test_the_common_endpoints_name_no_tenant(client: httpx.AsyncClient) -> None:
    config = (await client.get("/common/v2.0/.well-known/openid-configuration")).json()
    keys = (await client.get("/organizations/discovery/v2.0/keys")).json()

    assert config["issuer"] == "https://cloud.test/{tenantid}/v2.0"
    assert keys["keys"][0]["issuer"] == "https://cloud.test/{tenantid}/v2.0"


async def test_discovery_of_an_unknown_tenant_is_refused(client: httpx.AsyncClient) -> None:
    for path in (
        "/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        f"/{uuid.UUID(int=5)}/discovery/v2.0/keys",
    ):
        response = await client.get(path)
        assert_entra_error(response, 400, "invalid_request", 90002)
