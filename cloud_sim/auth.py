"""Who is calling the cloud: the principal behind a bearer token (Entra ID-shaped JWTs from this
cloud's token endpoint), as FastAPI dependencies. Routes say what they need:

    admin: AdminCaller          # an administrator with a role that may change things
    reader: ReaderCaller        # any administrator role, read-only ones included
    app: ScepProviderCaller     # an app registration granted scep_challenge_provider

Each dependency answers 401 (no or bad token: WWW-Authenticate: Bearer) or 403 (authenticated,
not allowed) with Graph's error shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request

from .deps import Session


class Role(StrEnum):
    GLOBAL_ADMINISTRATOR = "Global Administrator"
    INTUNE_ADMINISTRATOR = "Intune Administrator"
    READ_ONLY_OPERATOR = "Read Only Operator"


@dataclass(frozen=True)
class Principal:
    """The verified caller: a user (with roles) or an application (with permissions)."""

    tenant_id: str
    object_id: str
    kind: str  # "user" | "app"
    name: str
    roles: frozenset[Role] = frozenset()
    permissions: frozenset[str] = frozenset()


async def require_admin(request: Request, session: Session) -> Principal:
    """An administrator whose role may change things (Global or Intune Administrator)."""
    from .identity_auth import verify_admin

    return await verify_admin(request, write=True, session=session)


async def require_reader(request: Request, session: Session) -> Principal:
    """Any administrator role, read-only ones included."""
    from .identity_auth import verify_admin

    return await verify_admin(request, write=False, session=session)


async def require_scep_provider(request: Request, session: Session) -> Principal:
    """An app registration granted the Intune permission `scep_challenge_provider`."""
    from .identity_auth import verify_app

    return await verify_app(request, permission="scep_challenge_provider", session=session)


AdminCaller = Annotated[Principal, Depends(require_admin)]
ReaderCaller = Annotated[Principal, Depends(require_reader)]
ScepProviderCaller = Annotated[Principal, Depends(require_scep_provider)]
