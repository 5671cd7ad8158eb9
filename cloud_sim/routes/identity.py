"""HTTP routes of the cloud's identity area, in Entra ID's and Graph's shapes:

    POST /{tenant}/oauth2/v2.0/token                      client_credentials, password
    GET  /{tenant}/discovery/v2.0/keys                    JWKS
    GET  /{tenant}/v2.0/.well-known/openid-configuration
    GET  /v1.0/servicePrincipals/appId=0000000a-0000-0000-c000-000000000000/endpoints

`{tenant}` is the tenant's id or its default domain. Token errors answer as Entra does:
`{"error", "error_description": "AADSTS<n>: ...", "error_codes": [n], ...}`, 401 for a bad
client credential, 400 otherwise.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..context import CloudContext
from ..deps import Context, Session
from ..domain.identity import (
    DEFAULT_DELEGATED_SCOPES,
    INTUNE_APP_ID,
    InvalidCredential,
    NotFound,
    ScopeError,
    Tenant,
    parse_scope,
)
from ..identity_auth import (
    GraphError,
    app_token_claims,
    issuer,
    token_signer,
    user_token_claims,
    verify_app,
)
from ..store.identity import Directory, directory, find_tenant

router = APIRouter(tags=["identity"])

SCEP_VALIDATION_SERVICE = "ScepRequestValidationFEService"
PKI_CONNECTOR_SERVICE = "PkiConnectorFEService"
LAB_TENANT_WIDE = {"common", "organizations"}


class EntraError(Exception):
    """A refusal of the token endpoint: `code` is its AADSTS number, status and error follow."""

    def __init__(self, code: int, *args: str) -> None:
        self.status, self.error, template = _AADSTS[code]
        self.code = code
        super().__init__(template.format(*args))


# fmt: off
_AADSTS = {  # code: (HTTP status, error, message), as Entra words them (the first sentences)
    90002: (400, "invalid_request", "Tenant '{}' not found. Check to make sure you have the "
            "correct tenant ID and are signing into the correct cloud."),
    900144: (400, "invalid_request", "The request body must contain the following parameter: "
             "'{}'."),
    70003: (400, "unsupported_grant_type", "The app requested an unsupported grant type '{}'."),
    700016: (400, "unauthorized_client", "Application with identifier '{}' was not found in the "
             "directory '{}'. This can happen if the application has not been installed by the "
             "administrator of the tenant or consented to by any user in the tenant."),
    7000216: (401, "invalid_client", "'client_assertion', 'client_secret' or 'request' is "
              "required for the 'client_credentials' grant type."),
    7000215: (401, "invalid_client", "Invalid client secret provided. Ensure the secret being "
              "sent in the request is the client secret value, not the client secret ID, for a "
              "secret added to app '{}'."),
    50034: (400, "invalid_grant", "The user account {} does not exist in the {} directory. To "
            "sign into this application, the account must be added to the directory."),
    50126: (400, "invalid_grant", "Error validating credentials due to invalid username or "
            "password."),
    50057: (400, "invalid_grant", "The user account is disabled."),
}
# fmt: on


@router.post("/{tenant}/oauth2/v2.0/token")
async def token(tenant: str, request: Request, context: Context, session: Session) -> JSONResponse:
    """Entra's token endpoint (form-encoded), for the two grants the lab needs."""
    form = _form(await request.body())
    try:
        found = await _tenant(session, tenant)
        grant = _required(form, "grant_type")
        if grant == "client_credentials":
            claims, scope = await _client_credentials(
                context, Directory(session, found), request, form
            )
        elif grant == "password":
            claims, scope = await _password(context, Directory(session, found), form)
        else:
            raise EntraError(70003, grant)
    except ScopeError as exc:
        return _entra_error(context, request, 400, exc.error, exc.aadsts, str(exc))
    except EntraError as exc:
        return _entra_error(context, request, exc.status, exc.error, exc.code, str(exc))
    lifetime = context.settings.token_lifetime_minutes * 60
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
    }
    if scope is not None:
        body["scope"] = scope
    body["access_token"] = token_signer(request.app).sign(claims)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/{tenant}/discovery/v2.0/keys")
async def keys(tenant: str, request: Request, context: Context, session: Session) -> JSONResponse:
    try:
        tenant_id = await _tenant_or_placeholder(session, tenant)
    except EntraError as exc:
        return _entra_error(context, request, exc.status, exc.error, exc.code, str(exc))
    jwk = {**token_signer(request.app).jwk, "issuer": issuer(context, tenant_id)}
    return JSONResponse({"keys": [jwk]})


@router.get("/{tenant}/v2.0/.well-known/openid-configuration")
async def openid_configuration(
    tenant: str, request: Request, context: Context, session: Session
) -> JSONResponse:
    try:
        tenant_id = await _tenant_or_placeholder(session, tenant)
    except EntraError as exc:
        return _entra_error(context, request, exc.status, exc.error, exc.code, str(exc))
    base = f"{_base(context)}/{tenant_id}"
    return JSONResponse(
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",  # not served
            "issuer": issuer(context, tenant_id),
            "grant_types_supported": ["client_credentials", "password"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }
    )


@router.get("/v1.0/servicePrincipals/appId={app_id}/endpoints")
async def service_endpoints(
    app_id: str, request: Request, context: Context, session: Session
) -> dict[str, Any]:
    """Graph's discovery of Intune's services, as the IRA library asks for it. Needs a Graph
    token with `Application.Read.All` (else 403). The two services are listed only if the app is
    granted Intune's `scep_challenge_provider`: without it the list is empty and the library
    fails with "Did not find service named ..." (IRA issue #85)."""
    caller = await verify_app(request, "Application.Read.All")
    if app_id.strip("'").lower() != INTUNE_APP_ID:
        message = f"Resource '{app_id}' does not exist or one of its queried reference-property"
        raise GraphError(404, "Request_ResourceNotFound", f"{message} objects are not present.")
    app = await (await directory(session, caller.tenant_id)).get_service_principal(caller.object_id)
    granted = app is not None and "scep_challenge_provider" in app.permissions
    services = [SCEP_VALIDATION_SERVICE, PKI_CONNECTOR_SERVICE] if granted else []
    context_url = f"{_base(context)}/v1.0/$metadata#servicePrincipals('appId%3D{INTUNE_APP_ID}')"
    return {
        "@odata.context": f"{context_url}/endpoints",
        "value": [_endpoint(context, name) for name in services],
    }


def _endpoint(context: CloudContext, name: str) -> dict[str, str]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"intune-scep-lab:endpoint:{name}")),
        "capability": name,
        "providerId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"intune-scep-lab:provider:{name}")),
        "providerName": name,
        "providerResourceId": INTUNE_APP_ID,
        "uri": f"{_base(context)}/RACerts/{name}",
    }


async def _client_credentials(
    context: CloudContext, tenant_directory: Directory, request: Request, form: dict[str, str]
) -> tuple[dict[str, Any], None]:
    client_id, secret = _client_credential(request, form)
    tenant = tenant_directory.tenant
    app = await tenant_directory.get_app_registration(client_id) if _is_guid(client_id) else None
    if app is None:
        raise EntraError(700016, client_id, tenant.default_domain)
    if not secret:
        raise EntraError(7000216)
    try:
        app = await tenant_directory.authenticate_app(client_id, secret)
    except InvalidCredential as exc:
        raise EntraError(7000215, client_id) from exc
    wanted = parse_scope(_required(form, "scope"), app_only=True)
    return app_token_claims(context, tenant, app, wanted.resource), None


async def _password(
    context: CloudContext, tenant_directory: Directory, form: dict[str, str]
) -> tuple[dict[str, Any], str]:
    client_id = _required(form, "client_id")
    if not _is_guid(client_id):
        raise EntraError(700016, client_id, tenant_directory.tenant.default_domain)
    username, password = _required(form, "username"), _required(form, "password")
    wanted = parse_scope(_required(form, "scope"), app_only=False)
    try:
        user = await tenant_directory.authenticate_user(username, password)
    except NotFound as exc:
        raise EntraError(50034, username, tenant_directory.tenant.default_domain) from exc
    except InvalidCredential as exc:
        raise EntraError(50126) from exc
    if not user.account_enabled:
        raise EntraError(50057)
    scp = " ".join(wanted.names) or DEFAULT_DELEGATED_SCOPES[wanted.resource]
    tenant = tenant_directory.tenant
    claims = user_token_claims(context, tenant, user, wanted.resource, client_id, scp)
    return claims, " ".join(f"{wanted.resource.rstrip('/')}/{name}" for name in scp.split())


async def _tenant(session: Session, name: str) -> Tenant:
    found = await find_tenant(session, name)
    if found is None:
        raise EntraError(90002, name)
    return found


async def _tenant_or_placeholder(session: Session, name: str) -> str:
    if name.lower() in LAB_TENANT_WIDE:
        return "{tenantid}"
    return (await _tenant(session, name)).id


def _client_credential(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_id and client_secret, from HTTP Basic (client_secret_basic) or the form."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise EntraError(7000216) from exc
        return unquote(client_id), unquote(secret)
    return _required(form, "client_id"), form.get("client_secret", "")


def _entra_error(
    context: CloudContext, request: Request, status: int, error: str, code: int, message: str
) -> JSONResponse:
    trace_id = str(uuid.uuid4())
    correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    stamp = context.clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
    tail = f"Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {stamp}"
    body: dict[str, object] = {
        "error": error,
        "error_description": f"AADSTS{code}: {message} {tail}",
    }
    body |= {"error_codes": [code], "timestamp": stamp, "trace_id": trace_id}
    return JSONResponse({**body, "correlation_id": correlation_id}, status_code=status)


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: values[0] for name, values in pairs.items()}


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise EntraError(900144, name)
    return value


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _base(context: CloudContext) -> str:
    return context.settings.public_base_url.rstrip("/")
