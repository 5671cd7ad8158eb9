"""Lab-only controls of NDES (served with `NDES_LAB_API=true`), behind the mscep_admin page's
credentials: what an administrator of the NDES host could change, to produce failures for their
real reason.

- caps: GetCACaps answers these keywords instead of `settings.caps` (a server whose caps name no
  SHA-2: iOS refuses it); `LabCaps` is the middleware that answers GetCACaps while it is armed.
- templates: the MSCEP template values (SignatureTemplate, EncryptionTemplate,
  GeneralPurposeTemplate) change at run time, as after editing the registry and restarting IIS
  (a name the CA does not offer: CERTSRV_E_UNSUPPORTED_CERT_TYPE).

`DELETE /lab/faults` goes back to the settings. Nothing is kept: a restarted NDES has none.
"""

from __future__ import annotations

import threading
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from shared import scep
from shared.lab_clock import add_clock_routes

from .admin import _authorised as admin_authorised
from .runtime import NdesRuntime, runtime_of
from .settings import NdesSettings
from .templates import TemplateMap
from .transport import MSCEP_PATH, PKICLIENT_PATH, parse_query

SHA2_FREE_CAPS = ("POSTPKIOperation", "Renewal", "DES3", "AES")
"""What `caps` answers by default: the lab's caps without any SHA keyword."""


class LabCapsBoard:
    """The GetCACaps keywords armed by the lab (None: the settings' own)."""

    def __init__(self) -> None:
        self._caps: tuple[str, ...] | None = None
        self._lock = threading.Lock()

    @property
    def caps(self) -> tuple[str, ...] | None:
        with self._lock:
            return self._caps

    def arm(self, caps: tuple[str, ...]) -> None:
        with self._lock:
            self._caps = caps

    def clear(self) -> None:
        with self._lock:
            self._caps = None


def require_ndes_admin(request: Request) -> None:
    settings: NdesSettings = request.app.state.lab_settings
    if not admin_authorised(request.headers.get("authorization"), settings):
        raise HTTPException(
            401, "NDES's administrator credentials are required", {"WWW-Authenticate": "Basic"}
        )


router = APIRouter(prefix="/lab", tags=["Lab only"], dependencies=[Depends(require_ndes_admin)])
add_clock_routes(router)


def _board(request: Request) -> LabCapsBoard:
    board: LabCapsBoard = request.app.state.lab_caps
    return board


Board = Annotated[LabCapsBoard, Depends(_board)]
Runtime = Annotated[NdesRuntime, Depends(runtime_of)]


class CapsFault(BaseModel):
    model_config = ConfigDict(frozen=True)

    caps: list[str] = Field(
        default_factory=lambda: list(SHA2_FREE_CAPS),
        max_length=32,
        description="the GetCACaps keywords to answer (default: the lab's without SHA-*)",
    )


class TemplatesFault(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    signature: str | None = Field(default=None, min_length=1, max_length=255)
    encryption: str | None = Field(default=None, min_length=1, max_length=255)
    general_purpose: str | None = Field(
        default=None, alias="generalPurpose", min_length=1, max_length=255
    )


def _configured(settings: NdesSettings) -> TemplateMap:
    return TemplateMap(
        signature=settings.signature_template,
        encryption=settings.encryption_template,
        general_purpose=settings.general_purpose_template,
    )


def _templates_json(templates: TemplateMap) -> dict[str, str]:
    return {
        "signature": templates.signature,
        "encryption": templates.encryption,
        "generalPurpose": templates.general_purpose,
    }


@router.get("/faults")
async def list_faults(board: Board, runtime: Runtime) -> dict[str, object]:
    found: dict[str, object] = {}
    if (caps := board.caps) is not None:
        found["caps"] = list(caps)
    current = runtime.service.templates
    if current != _configured(runtime.settings):
        found["templates"] = _templates_json(current)
    return found


@router.put("/faults/caps", status_code=204)
async def arm_caps(body: CapsFault, board: Board) -> None:
    """Answer GetCACaps with `caps` until cleared."""
    bad = [word for word in body.caps if not word or not word.isascii() or not word.isprintable()]
    if bad or any(" " in word for word in body.caps):
        raise HTTPException(400, "each capability is one printable ASCII word")
    board.arm(tuple(body.caps))


@router.put("/faults/templates")
async def map_templates(body: TemplatesFault, runtime: Runtime) -> dict[str, str]:
    """Change the MSCEP template values given (the others stay); answers the mapping now."""
    current = runtime.service.templates
    changed = TemplateMap(
        signature=body.signature or current.signature,
        encryption=body.encryption or current.encryption,
        general_purpose=body.general_purpose or current.general_purpose,
    )
    runtime.service.use_templates(changed)
    return _templates_json(changed)


@router.delete("/faults", status_code=204)
async def clear_faults(board: Board, runtime: Runtime) -> None:
    board.clear()
    runtime.service.use_templates(_configured(runtime.settings))


class LabCaps:
    """Pure ASGI, inside the case-insensitive paths: GetCACaps answered with the armed caps."""

    def __init__(self, app: ASGIApp, board: LabCapsBoard) -> None:
        self.app = app
        self.board = board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caps = self.board.caps
        if (
            caps is not None
            and scope["type"] == "http"
            and scope.get("path") in (MSCEP_PATH, PKICLIENT_PATH)
            and _operation(scope.get("query_string", b"")) == "getcacaps"
        ):
            body = scep.build_caps(caps).encode("ascii")
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def _operation(query: bytes) -> str:
    return unquote_plus(parse_query(query).get("operation", "")).strip().casefold()


def install(app: FastAPI, settings: NdesSettings) -> None:
    """Serve the lab controls on `app` (before its other middleware is added: GetCACaps is
    answered inside the case-insensitive paths and the trace)."""
    board = LabCapsBoard()
    app.state.lab_settings = settings
    app.state.lab_caps = board
    app.add_middleware(LabCaps, board=board)
    app.include_router(router)
