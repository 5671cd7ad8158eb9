"""Bearer-token authentication: one admin token, held by administrators, the connector's
revocation agent and the NDES service account.

No credentials → 401 (with `WWW-Authenticate: Bearer`); a wrong token → 403. Neither changes
any state.
"""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, status

from ..settings import CaSettings


def presented_token(request: Request) -> str | None:
    """The bearer token of the Authorization header; None without one (or another scheme)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _check(request: Request, token: str) -> str:
    settings: CaSettings = request.app.state.settings
    expected = settings.admin_token.get_secret_value()
    if not secrets.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the bearer token is not the CA's")
    return settings.admin_name


async def optional_admin(request: Request) -> str | None:
    """The admin identity if a token was presented (and is right), else None."""
    token = presented_token(request)
    return None if token is None else _check(request, token)


async def require_admin(request: Request) -> str:
    token = presented_token(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this operation needs the admin token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return _check(request, token)
