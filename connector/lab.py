"""Lab-only routes of the connector (served with `CONNECTOR_LAB_API=true`), for the NDES policy
module's client certificate only, like the rest of the local API:

- `POST /lab/crash`: the connector dies at once, as with kill -9: no report is flushed, no agent
  finishes what it was doing. Alone (`python -m connector`) the process ends with `os._exit`;
  restarting it is its service manager's business (Windows' service recovery, systemd, docker's
  restart policy). An embedding runner (`scep-lab up`) puts a hook on the app instead
  (`set_crash_hook`) that kills the connector in place and starts a new one from its data folder
  after `restartAfterSeconds`.
- `GET /lab/outbox`: the outbox as it stands (no bodies: they carry CSRs), and which instance of
  the connector answers (a new one after each restart).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse

from shared.lab_clock import add_clock_routes

from .outbox import JsonObject
from .store import OutboxEntry, SqlOutboxStore

CrashHook = Callable[[float], Awaitable[None]]
"""Awaited with the restart delay in seconds, once the crash has been answered: it must only
start the crash (the request's own task is among what a crash cancels)."""
KILLED = 137
"""The exit status a shell shows for a process killed by SIGKILL (128 + 9)."""


class CrashRequest(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    restart_after_seconds: float = Field(
        default=0.0,
        alias="restartAfterSeconds",
        ge=0,
        le=3600,
        description="how long the connector stays down (when a runner restarts it)",
    )


def set_crash_hook(app: FastAPI, hook: CrashHook) -> None:
    """What `POST /lab/crash` does instead of ending the process (an embedding runner)."""
    app.state.lab_crash = hook


def keep_agents(app: FastAPI, tasks: list[asyncio.Task[None]]) -> None:
    """The app's background agents, for `cancel_agents` (the lifespan registers them)."""
    app.state.agent_tasks = tasks


def cancel_agents(app: FastAPI) -> int:
    """Cancel the background agents where they stand (a crash: a report being sent is neither
    recorded delivered nor failed). Returns how many were still running."""
    tasks: list[asyncio.Task[None]] = getattr(app.state, "agent_tasks", [])
    running = [task for task in tasks if not task.done()]
    for task in running:
        task.cancel()
    return len(running)


def _die() -> None:
    os._exit(KILLED)  # no flush, no clean-up: as kill -9


def _entry(entry: OutboxEntry) -> dict[str, Any]:
    notification = entry.report.body.get("notification")
    fields: JsonObject = notification if isinstance(notification, dict) else {}
    return {
        "id": int(entry.id),
        "transactionId": entry.report.transaction_id,
        "kind": entry.report.kind.value,
        "certificateSerialNumber": fields.get("certificateSerialNumber"),
        "hResult": fields.get("hResult"),
        "createdAt": entry.report.created_at.isoformat(),
        "attempts": entry.attempts,
        "lastError": (entry.last_error or "")[:200] or None,
        "deliveredAt": entry.delivered_at.isoformat() if entry.delivered_at else None,
        "refusal": entry.refusal,
    }


def lab_router(admit: Callable[..., Any]) -> APIRouter:
    """The lab routes, each behind `admit` (the dependency that lets the policy module in)."""
    router = APIRouter(prefix="/lab", tags=["Lab only"], dependencies=[Depends(admit)])
    add_clock_routes(router)
    instance = uuid.uuid4().hex
    started = dt.datetime.now(dt.UTC).isoformat()

    @router.post("/crash", status_code=202)
    async def crash(body: CrashRequest, request: Request) -> JSONResponse:
        hook: CrashHook | None = getattr(request.app.state, "lab_crash", None)
        delay = body.restart_after_seconds
        task = BackgroundTask(_die) if hook is None else BackgroundTask(hook, delay)
        answer = {"instance": instance, "restartAfterSeconds": None if hook is None else delay}
        return JSONResponse(answer, status_code=202, background=task)

    @router.get("/outbox")
    async def outbox(
        request: Request, after: int = Query(default=0, ge=0, description="entries after this id")
    ) -> dict[str, Any]:
        store: SqlOutboxStore = request.app.state.connector.store
        entries = [e for e in await store.entries() if e.id > after]
        return {
            "instance": instance,
            "startedAt": started,
            "pending": sum(1 for e in entries if e.delivered_at is None),
            "entries": [_entry(e) for e in entries],
        }

    return router
