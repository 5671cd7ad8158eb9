"""Bearer tokens: the cloud signs Entra ID-shaped access tokens (JWT, RS256) and verifies them on
every protected route, for the dependencies of `cloud_sim.auth`.

The signing key is `<data_dir>/token-signing.key.pem`, RSA-2048, made on first use (mode 0600)
and kept for good: tokens survive a restart. Its `kid` is its RFC 7638 thumbprint; the JWKS at
`/{tenant}/discovery/v2.0/keys` publishes it. A token is accepted when its signature, `kid`,
issuer (`{public_base_url}/{tid}/v2.0`), lifetime (by the injected clock, no leeway), audience
and tenant check out and its user or service principal still exists (a disabled user does not).
Roles and permissions are read from the token, as Entra's resource servers do: a change to them
takes effect with the next token.

Failures answer in Graph's shape, `{"error": {"code", "message", "innerError"}}`: 401
`InvalidAuthenticationToken` with `WWW-Authenticate: Bearer`, or 403 `Authorization_RequestDenied`.
`install_error_handler(app)` renders them so; without it FastAPI answers `{"detail": message}`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pki import (
    KeyFileError,
    KeySpec,
    generate_key,
    load_private_key_file,
    write_private_key_file,
)

from .auth import Principal, Role
from .context import CloudContext
from .domain.identity import PERMISSIONS, AppRegistration, Resource, Tenant, User
from .store.identity import Directory, find_tenant

SIGNING_KEY_FILE = "token-signing.key.pem"
WRITE_ROLES = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.INTUNE_ADMINISTRATOR})
READ_ROLES = WRITE_ROLES | {Role.READ_ONLY_OPERATOR}


@dataclass(frozen=True)
class TokenSigner:
    """The cloud's token-signing key: signs and reads compact JWS (RS256)."""

    key: rsa.RSAPrivateKey

    @cached_property
    def jwk(self) -> dict[str, str]:
        numbers = self.key.public_key().public_numbers()
        e, n = (_b64(v.to_bytes((v.bit_length() + 7) // 8, "big")) for v in (numbers.e, numbers.n))
        canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
        kid = _b64(hashlib.sha256(canonical.encode()).digest())  # RFC 7638 thumbprint
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}

    def sign(self, claims: Mapping[str, object]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.jwk["kid"]}
        signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def read(self, token: str) -> dict[str, Any]:
        """The claims of `token` if this key signed it; `ValueError` saying why not."""
        parts = token.split(".")
        if len(parts) != 3:
            raise ValueError("the token is not a JWT (header.payload.signature)")
        try:
            header, claims = (json.loads(_unb64(part)) for part in parts[:2])
            signature = _unb64(parts[2])
        except ValueError as exc:
            raise ValueError("the token is not well formed") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError("the token is not well formed")
        if header.get("alg") != "RS256" or header.get("kid") != self.jwk["kid"]:
            raise ValueError("the signing key was not found (alg or kid)")
        try:
            signed = f"{parts[0]}.{parts[1]}".encode()
            self.key.public_key().verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise ValueError("signature validation failed") from exc
        return claims


def load_or_create_signing_key(data_dir: Path) -> TokenSigner:
    """The key in `data_dir`, made there first if absent; `KeyFileError` if it is unreadable."""
    path = data_dir / SIGNING_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        write_private_key_file(path, generate_key(KeySpec.rsa(2048)))
    key = load_private_key_file(path)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path}: the token-signing key must be RSA (delete it to make one)")
    return TokenSigner(key)


def token_signer(app: FastAPI) -> TokenSigner:
    """The app's signer, loaded (or made) on first use and kept on `app.state`. No await in
    between: concurrent first requests cannot make two keys."""
    signer: TokenSigner | None = getattr(app.state, "token_signer", None)
    if signer is None:
        context: CloudContext = app.state.cloud
        signer = app.state.token_signer = load_or_create_signing_key(context.settings.data_dir)
    return signer


def issuer(context: CloudContext, tenant_id: str) -> str:
    return f"{context.settings.public_base_url.rstrip('/')}/{tenant_id}/v2.0"


def app_token_claims(
    context: CloudContext, tenant: Tenant, app: AppRegistration, resource: Resource
) -> dict[str, object]:
    """An app-only token's claims: `roles` are the app's permissions on `resource`."""
    claims = _claims(context, tenant, resource, app.object_id, "app")
    claims |= {"azp": app.app_id, "azpacr": "1", "app_displayname": app.display_name}
    if roles := app.permissions_for(resource):
        claims["roles"] = roles
    return claims


def user_token_claims(
    context: CloudContext, tenant: Tenant, user: User, resource: Resource, client: str, scp: str
) -> dict[str, object]:
    """A user's token: delegated `scp`, Entra role template ids in `wids`, and (the lab's way
    of carrying Intune RBAC too) the user's administrator role names in `roles`."""
    claims = _claims(context, tenant, resource, user.id, "user")
    upn = user.user_principal_name
    claims |= {"azp": client.lower(), "azpacr": "0", "name": user.display_name, "upn": upn}
    claims |= {"preferred_username": upn, "scp": scp, "wids": user.role_template_ids}
    if user.roles:
        claims["roles"] = sorted(user.roles)
    return claims


def _claims(
    context: CloudContext, tenant: Tenant, resource: Resource, oid: str, kind: str
) -> dict[str, object]:
    now = int(context.clock.now().timestamp())
    lifetime = context.settings.token_lifetime_minutes * 60
    return {
        **{"aud": resource.value, "iss": issuer(context, tenant.id), "iat": now, "nbf": now},
        **{"exp": now + lifetime, "idtyp": kind, "oid": oid, "sub": oid, "tid": tenant.id},
        **{"uti": str(uuid.uuid4()), "ver": "2.0"},
    }


class GraphError(HTTPException):
    """An error Graph would answer: `code` and `message` in `{"error": {...}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        headers = {"WWW-Authenticate": _www_authenticate(message)} if status == 401 else None
        super().__init__(status, message, headers)
        self.code = code


def unauthenticated(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message)


def denied(message: str = "Insufficient privileges to complete the operation.") -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", message)


async def graph_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GraphError)
    context: CloudContext = request.app.state.cloud
    inner = {
        "date": context.clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": request.headers.get("client-request-id", ""),
    }
    body = {"error": {"code": exc.code, "message": exc.detail, "innerError": inner}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_error_handler(app: FastAPI) -> None:
    """Render `GraphError`s in Graph's shape (call in `create_app`)."""
    app.add_exception_handler(GraphError, graph_error_response)


async def verify_admin(
    request: Request, write: bool, session: AsyncSession | None = None
) -> Principal:
    """An administrator's token, for Intune or Graph: Global or Intune Administrator to write,
    Read Only Operator as well to read."""
    principal = await verify_token(request, {Resource.INTUNE, Resource.GRAPH}, session)
    if principal.kind != "user" or not principal.roles & (WRITE_ROLES if write else READ_ROLES):
        raise denied()
    return principal


async def verify_app(
    request: Request, permission: str, session: AsyncSession | None = None
) -> Principal:
    """An app-only token for `permission`'s resource whose `roles` grant `permission`."""
    principal = await verify_token(request, {PERMISSIONS[permission]}, session)
    if principal.kind != "app" or permission not in principal.permissions:
        raise denied()
    return principal


async def verify_token(
    request: Request, audiences: set[Resource], session: AsyncSession | None = None
) -> Principal:
    """The caller behind `Authorization: Bearer`, if the token is good for one of `audiences`.
    Give it the request's own `session` where there is one: a second session beside an open
    write transaction would wait on SQLite's lock."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Access token is empty.")
    context: CloudContext = request.app.state.cloud
    try:
        claims = token_signer(request.app).read(token.strip())
    except ValueError as exc:
        raise unauthenticated(f"Access token validation failure: {exc}.") from exc
    tenant_id = str(claims.get("tid", ""))
    now = context.clock.now().timestamp()
    if claims.get("iss") != issuer(context, tenant_id):
        raise unauthenticated("Access token validation failure. Invalid issuer.")
    if not _number(claims.get("exp")) > now:
        raise unauthenticated("Lifetime validation failed, the token is expired.")
    if _number(claims.get("nbf")) > now:
        raise unauthenticated("Lifetime validation failed, the token is not yet valid.")
    if not any(_same_resource(claims.get("aud"), audience) for audience in audiences):
        raise unauthenticated("Access token validation failure. Invalid audience.")
    principal = _principal(claims, tenant_id)
    if session is not None:
        known = await _exists(session, principal)
    else:
        async with context.sessions() as own, own.begin():
            known = await _exists(own, principal)
    if not known:
        raise unauthenticated("Access token validation failure: unknown tenant or principal.")
    return principal


async def _exists(session: AsyncSession, principal: Principal) -> bool:
    """Whether the token's tenant and user (enabled) or service principal still exist."""
    tenant = await find_tenant(session, principal.tenant_id) if principal.tenant_id else None
    if tenant is None or tenant.id != principal.tenant_id:
        return False
    known = Directory(session, tenant)
    if principal.kind == "app":
        return await known.get_service_principal(principal.object_id) is not None
    user = await known.get_user(principal.object_id)
    return user is not None and user.account_enabled


def _principal(claims: Mapping[str, Any], tenant_id: str) -> Principal:
    names = claims.get("roles", [])
    names = [str(n) for n in names] if isinstance(names, list) else []
    object_id = str(claims.get("oid", ""))
    if claims.get("idtyp") == "app":
        name = str(claims.get("app_displayname", ""))
        return Principal(tenant_id, object_id, "app", name, permissions=frozenset(names))
    roles = frozenset(Role(n) for n in names if n in {r.value for r in Role})
    return Principal(tenant_id, object_id, "user", str(claims.get("upn", "")), roles=roles)


def _same_resource(aud: object, resource: Resource) -> bool:
    return isinstance(aud, str) and aud.rstrip("/").lower() == resource.rstrip("/").lower()


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _www_authenticate(message: str) -> str:
    if message == "Access token is empty.":
        return 'Bearer realm="intune-scep-lab"'
    return f'Bearer realm="intune-scep-lab", error="invalid_token", error_description="{message}"'


def _json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
