"""The lab console: one web page (static files, no build step, nothing from the internet) and the
JSON it reads, served by `scep-lab up` on 127.0.0.1:8000 (or alone: `scep-lab console`).

The console keeps nothing on disk: it reads the trace (into an index in memory, followed as the
parties write), the lab PKI's files and lab.json from the data folder, and calls the parties'
own APIs with the lab's credentials, as the command line does (the cloud's Graph API as the demo
tenant's administrator, the parties' `/lab/*` APIs through `lab.faults` and `lab.lab_api`). In
memory it keeps only the index, its last scenario runs and a token. Its reads are sent as the
`console` party, which the parties do not record; what it changes (retire, unassign, clock,
faults) and its sign-in are sent as `admin` and show in the trace like the command line's.

Loopback only, and no sign-in: the page holds no secret. Two guards keep other web pages out:
the Host header must name a loopback host (DNS rebinding), and every change must carry the
`X-Lab-Console` header, which a cross-site form cannot send and a cross-site script cannot
send without a CORS preflight that the console never grants. They are not authentication: a
program that can reach the port can send both (docker compose publishes it on 127.0.0.1 only).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from shared.trace import OBSERVER, TraceEvent

from .. import faults
from ..challenge import LabCallFailed
from ..home import LabState, load_state, trace_path
from ..info import urls
from ..lab_api import ca_requests
from ..scenarios import SCENARIOS
from . import actions
from .health import party_health, published_certificates, without_body
from .intune import CloudAdmin, ca_row, cloud_errors, graph_path, intune_view, passed_on
from .live import Hub, TraceIndex, follow, sse
from .runs import RunRefused, Runs
from .trust import PARTIES, trust_map
from .views import transaction_detail, transaction_list

T = TypeVar("T")
STATIC = Path(__file__).parent / "static"
PARTY_NAMES = dict(PARTIES) | {"ndes-general": "NDES (one-time passwords)"}
CHANGE_HEADER = "x-lab-console"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class Memo:
    """What was computed from one version of the trace index, kept until the next version
    (a page that reloads while nothing happened costs nothing)."""

    KEPT = 64

    def __init__(self, index: TraceIndex) -> None:
        self.index = index
        self._version = -1
        self._values: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[list[TraceEvent]], T]) -> T:
        version, events = self.index.snapshot
        with self._lock:
            if version != self._version:
                self._version, self._values = version, {}
            if key in self._values:
                found: T = self._values[key]
                return found
        value = compute(events)
        with self._lock:
            if version == self._version and len(self._values) < self.KEPT:
                self._values[key] = value
        return value


def create_app(data: Path, *, fleet_size: int | None = None) -> FastAPI:
    hub = Hub()
    index = TraceIndex(trace_path(data))
    memo = Memo(index)
    runs = Runs(data, hub, index, fleet_size)
    cloud = CloudAdmin(data)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        trace_path(data).mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(index.poll)  # what is there already (not news to the pages)
        tail = asyncio.create_task(follow(index, hub))
        try:
            yield
        finally:
            tail.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tail
            cloud.close()

    app = FastAPI(title="intune-scep-lab console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.closing = hub.close  # lab.serving calls it when the server begins to stop
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if host_name(request.headers.get("host", "")) not in LOOPBACK:
            return JSONResponse({"detail": "the console answers loopback host names only"}, 421)
        if request.method not in ("GET", "HEAD") and request.headers.get(CHANGE_HEADER) != "1":
            return JSONResponse({"detail": f"a change needs the {CHANGE_HEADER} header"}, 403)
        return await call_next(request)

    def lab_state() -> LabState:
        state = load_state(data)
        if state is None:
            raise HTTPException(503, f"no lab in {data}: run `scep-lab up`")
        return state

    @app.get("/health", include_in_schema=False)
    async def alive() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    @app.get("/api/lab")
    def lab() -> dict[str, Any]:
        state = lab_state()
        tenant = state.tenant
        return {
            "tenant": None
            if tenant is None
            else {"id": tenant.tenant_id, "name": tenant.display_name, "domain": tenant.domain},
            "urls": urls(state),
            "data_dir": str(data),
            "policy": state.policy,
        }

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        said = await party_health(data, lab_state())
        return {
            "parties": [
                {"id": party, "name": PARTY_NAMES.get(party, party), **without_body(value)}
                for party, value in said.items()
            ]
        }

    @app.get("/api/trust")
    async def trust() -> dict[str, Any]:
        state = lab_state()
        said = await party_health(data, state)
        said["policy-module"] = said.get("ndes", {"up": False, "detail": ""})
        try:
            profiles = await asyncio.to_thread(
                cloud.value, state, graph_path("deviceConfigurations")
            )
        except (HTTPException, LabCallFailed, httpx.HTTPError):
            profiles = []
        held = await published_certificates(state, said)
        return trust_map(data, await lab_now(state), profiles, said, held)

    async def lab_now(state: LabState) -> dt.datetime:
        """The lab's time (its clock may be ahead): what "expired" means on the map."""
        try:
            body = await asyncio.to_thread(cloud.clock, state)
            return dt.datetime.fromisoformat(body["now"])
        except (LabCallFailed, httpx.HTTPError, KeyError, ValueError):
            return dt.datetime.now(dt.UTC)

    @app.get("/api/transactions")
    def transactions(limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
        rows = memo.get(("list", limit), lambda events: transaction_list(events, limit))
        return {"transactions": rows}

    @app.get("/api/transactions/{key}")
    def transaction(key: str) -> dict[str, Any]:
        found = memo.get(("detail", key), lambda events: transaction_detail(events, key))
        if found is None:
            raise HTTPException(404, f"no transaction {key!r} in the trace")
        return found

    @app.get("/api/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(
            sse(hub),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    @app.get("/api/intune")
    def intune() -> dict[str, Any]:
        state = lab_state()
        with cloud_errors():
            return intune_view(cloud, state)

    @app.post("/api/intune/devices/{device_id}/retire", status_code=204)
    def retire(device_id: str) -> None:
        path = graph_path("managedDevices", device_id, "retire")
        with cloud_errors():
            answer = cloud.call(lab_state(), "POST", path, change=True)
        passed_on(answer)

    @app.post("/api/intune/profiles/{profile_id}/unassign", status_code=204)
    def unassign(profile_id: str) -> None:
        path = graph_path("deviceConfigurations", profile_id, "assign")
        with cloud_errors():
            answer = cloud.call(lab_state(), "POST", path, json={"assignments": []}, change=True)
        passed_on(answer)

    @app.get("/api/ca/requests")
    def ca() -> dict[str, Any]:
        state = lab_state()
        try:
            rows = ca_requests(state, party=OBSERVER)
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"the CA: {exc}") from exc
        return {"requests": [ca_row(row) for row in rows]}

    @app.get("/api/scenarios")
    def scenarios() -> dict[str, Any]:
        return {
            "scenarios": [
                {"name": s.name, "description": s.description, "for_good": s.for_good}
                for s in SCENARIOS.values()
            ]
        }

    @app.post("/api/scenarios/{name}/run", status_code=202)
    def run(name: str) -> dict[str, Any]:
        try:
            started = runs.start(name)
        except RunRefused as exc:
            raise HTTPException(exc.status, exc.detail) from exc
        return {"run": started.json()}

    @app.get("/api/runs")
    def all_runs() -> dict[str, Any]:
        return {"runs": [r.json() for r in reversed(runs.all())]}

    @app.get("/api/runs/{run_id}")
    def one_run(run_id: str) -> dict[str, Any]:
        found = runs.get(run_id)
        if found is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return found.json()

    @app.get("/api/clock")
    def clock() -> dict[str, Any]:
        with cloud_errors():
            return cloud.clock(lab_state())

    @app.post("/api/clock")
    def move_clock(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return actions.advance(data, lab_state(), body)

    @app.get("/api/faults")
    def fault_points() -> dict[str, Any]:
        points = [
            {
                "name": p.name,
                "party": p.party,
                "help": p.help,
                "options": list(p.options),
                "for_good": p.name in faults.CLOCK_POINTS,
            }
            for p in faults.POINT_INFO.values()
        ]
        armed = faults.armed(data, lab_state(), OBSERVER)
        return {"points": points, "armed": {k: faults.fault_text(v) for k, v in armed.items()}}

    @app.post("/api/faults")
    def inject(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return actions.arm(data, lab_state(), body)

    @app.delete("/api/faults")
    def clear() -> dict[str, Any]:
        return {"failed": faults.clear(data, lab_state())}

    return app


def host_name(header: str) -> str:
    """The host of a Host header, without its port, in lower case (`[::1]:8000` → `[::1]`);
    anything after a bracketed address but a port keeps it whole (it matches no name)."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            return header
        return header[: end + 1]
    return header.partition(":")[0]
