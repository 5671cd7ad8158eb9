"""Lab-only routes of the CA (served with `CA_LAB_API=true`): arm and clear its fault points
(`faults`), with the admin token. `CaDownFault` is the middleware that makes the request API
answer with a 5xx while the CA is "down"."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.lab_clock import add_clock_routes

from ..faults import CaFaultBoard, CaFaultPoint
from .auth import require_admin

router = APIRouter(prefix="/lab", tags=["Lab only"], dependencies=[Depends(require_admin)])
add_clock_routes(router)
DOWN_PREFIX = "/ca/"
"""What "down" takes away: the request API (submit, status, revoke), not AIA and CDP."""


def board_of(request: Request) -> CaFaultBoard:
    board: CaFaultBoard = request.app.state.faults
    return board


Board = Annotated[CaFaultBoard, Depends(board_of)]


class RefusingFault(BaseModel):
    model_config = ConfigDict(frozen=True)

    hresult: int = Field(ge=0, le=0xFFFFFFFF, description="one of the CA's HRESULTs, unsigned")
    times: int | None = Field(default=None, ge=1, description="None: until cleared")


class DownFault(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: int = Field(default=503, ge=500, le=599)
    times: int | None = Field(default=None, ge=1, description="None: until cleared")


@router.get("/faults")
async def list_faults(board: Board) -> dict[str, object]:
    found: dict[str, object] = {}
    for point, fault in board.armed().items():
        if point is CaFaultPoint.REFUSING and fault.hresult is not None:
            found[point.value] = {"hresult": int(fault.hresult), "times": fault.remaining}
        elif point is CaFaultPoint.DOWN:
            found[point.value] = {"status": fault.status, "times": fault.remaining}
    return found


@router.put("/faults/refusing", status_code=204)
async def arm_refusing(body: RefusingFault, board: Board) -> None:
    """Deny every submission with `hresult` (recorded DENIED), `times` times or until cleared."""
    try:
        board.refuse(body.hresult, times=body.times)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


@router.put("/faults/down", status_code=204)
async def arm_down(body: DownFault, board: Board) -> None:
    """Answer the request API (`/ca/*`) with `status`, `times` times or until cleared."""
    board.go_down(status=body.status, times=body.times)


@router.delete("/faults", status_code=204)
async def clear_faults(board: Board) -> None:
    board.clear()


class CaDownFault:
    """Pure ASGI: a request to `/ca/*` while "down" is armed gets the armed 5xx, and never
    reaches the CA (nothing is recorded)."""

    def __init__(self, app: ASGIApp, board: CaFaultBoard) -> None:
        self.app = app
        self.board = board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(DOWN_PREFIX):
            status = self.board.down_status()
            if status is not None:
                body = json.dumps({"detail": "lab fault: the CA is down"}).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                ]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
