"""The lab console: one web page (static files, no build step, nothing from the internet) and the
JSON it reads, served by `scep-lab up` on 127.0.0.1:8000 (or alone: `scep-lab console`).

The console has no state of its own: it reads the trace files, the lab PKI's files and lab.json
from the data folder, and calls the parties' own APIs with the lab's credentials, as the command
line does (the cloud's Graph API as the demo tenant's administrator, the parties' `/lab/*`
APIs through `lab.faults` and `lab.lab_api`). Its reads are sent as the `console` party, which
the parties do not record; what it changes (retire, unassign, clock, faults) is sent as `admin`
and shows in the trace like the command line's.

Loopback only, and no sign-in: the page holds no secret. Two guards keep other web pages out:
the Host header must name a loopback host (DNS rebinding), and every change must carry the
`X-Lab-Console` header, which a cross-site form cannot send and a cross-site script cannot
send without a CORS preflight that the console never grants.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from cryptography import x509
from fastapi import Body, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from shared import scep
from shared.api.ca import Disposition
from shared.api.entra import password_grant, token_path
from shared.trace import OBSERVER, PARTY_HEADER, TraceEvent

from .. import faults
from ..challenge import LabCallFailed
from ..control import parse_duration
from ..home import LabState, load_state, tls_root_path, trace_path
from ..info import urls
from ..lab_api import ca_requests, policy_module_context
from ..scenarios import SCENARIOS
from .live import Hub, TraceIndex, follow, sse
from .runs import RunRefused, Runs
from .trust import PARTIES, ra_pair, trust_map
from .views import transaction_detail, transaction_list

T = TypeVar("T")
STATIC = Path(__file__).parent / "static"
PARTY_NAMES = dict(PARTIES) | {"ndes-general": "NDES (one-time passwords)"}
CHANGE_HEADER = "x-lab-console"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
GRAPH = "/beta/deviceManagement"
HEALTH_TIMEOUT = 2.0
TOKEN_MARGIN = 300.0
"""A cached token is renewed this many seconds before it expires."""


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


class CloudAdmin:
    """The cloud's Graph API as the demo tenant's administrator, one token kept between calls."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self._token: tuple[str, str, float] | None = None  # tenant, token, valid until
        self._lock = threading.Lock()

    def _sign_in(self, client: httpx.Client, state: LabState) -> str:
        tenant = state.tenant
        if tenant is None or tenant.admin_password is None:
            raise LabCallFailed("lab.json has no administrator credentials (run `scep-lab up`)")
        with self._lock:
            kept = self._token
            if kept and kept[0] == tenant.tenant_id and kept[2] > time.monotonic():
                return kept[1]
            answer = client.post(
                token_path(tenant.tenant_id),
                data=password_grant(tenant.admin_upn, tenant.admin_password),
                headers={PARTY_HEADER: OBSERVER},
            )
            if answer.status_code != 200:
                raise LabCallFailed(f"sign-in failed: HTTP {answer.status_code}")
            body = answer.json()
            lifetime = float(body.get("expires_in") or 600)
            until = time.monotonic() + max(lifetime - TOKEN_MARGIN, 30.0)
            self._token = (tenant.tenant_id, str(body["access_token"]), until)
            return self._token[1]

    def call(
        self, state: LabState, method: str, path: str, *, change: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One call; `change`: it is the administrator's action (recorded in the trace)."""
        verify = ssl.create_default_context(cafile=str(tls_root_path(self.data)))
        party = "admin" if change else OBSERVER
        with httpx.Client(base_url=state.url("cloud"), verify=verify, timeout=30) as client:
            for attempt in (1, 2):
                token = self._sign_in(client, state)
                headers = {"authorization": f"Bearer {token}", PARTY_HEADER: party}
                answer = client.request(method, path, headers=headers, **kwargs)
                if answer.status_code != 401 or attempt == 2:
                    return answer
                with self._lock:
                    self._token = None
        raise AssertionError("unreachable")

    def value(self, state: LabState, path: str) -> list[dict[str, Any]]:
        answer = self.call(state, "GET", path)
        if answer.status_code != 200:
            raise HTTPException(502, f"the cloud answered HTTP {answer.status_code} for {path}")
        found: list[dict[str, Any]] = answer.json().get("value", [])
        return found


def create_app(data: Path, *, fleet_size: int | None = None) -> FastAPI:
    hub = Hub()
    index = TraceIndex(trace_path(data))
    memo = Memo(index)
    runs = Runs(data, hub, fleet_size)
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

    app = FastAPI(title="intune-scep-lab console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runs = runs
    app.state.closing = hub.close  # lab.serving calls it when the server begins to stop
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = (
            (request.headers.get("host") or "").rsplit(":", 1)[0]
            if request.headers.get("host", "").count(":") <= 1
            else (request.headers.get("host") or "").rsplit("]", 1)[0] + "]"
        )
        if host not in LOOPBACK:
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
                {"id": party, "name": PARTY_NAMES.get(party, party), **_shown(value)}
                for party, value in said.items()
            ]
        }

    @app.get("/api/trust")
    async def trust() -> dict[str, Any]:
        state = lab_state()
        said = await party_health(data, state)
        said["policy-module"] = said.get("ndes", {"up": False, "detail": ""})
        try:
            profiles = await asyncio.to_thread(cloud.value, state, f"{GRAPH}/deviceConfigurations")
        except (HTTPException, LabCallFailed, httpx.HTTPError):
            profiles = []
        held = await published_certificates(state, said)
        return trust_map(data, await lab_now(state), profiles, said, held)

    async def lab_now(state: LabState) -> dt.datetime:
        """The lab's time (its clock may be ahead): what "expired" means on the map."""
        try:
            body = await asyncio.to_thread(faults_clock, state)
            return dt.datetime.fromisoformat(body["now"])
        except (LabCallFailed, httpx.HTTPError, KeyError, ValueError):
            return dt.datetime.now(dt.UTC)

    def faults_clock(state: LabState) -> dict[str, Any]:
        answer = cloud.call(state, "GET", "/lab/clock")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

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
        with _cloud_errors():
            return intune_view(cloud, state)

    @app.post("/api/intune/devices/{device_id}/retire", status_code=204)
    def retire(device_id: str) -> None:
        with _cloud_errors():
            answer = cloud.call(
                lab_state(), "POST", f"{GRAPH}/managedDevices/{device_id}/retire", change=True
            )
        _passed_on(answer)

    @app.post("/api/intune/profiles/{profile_id}/unassign", status_code=204)
    def unassign(profile_id: str) -> None:
        with _cloud_errors():
            answer = cloud.call(
                lab_state(),
                "POST",
                f"{GRAPH}/deviceConfigurations/{profile_id}/assign",
                json={"assignments": []},
                change=True,
            )
        _passed_on(answer)

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
        with _cloud_errors():
            return faults_clock(lab_state())

    @app.post("/api/clock")
    def advance(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        try:
            seconds = parse_duration(str(body.get("advance", "")))
        except typer.BadParameter as exc:
            raise HTTPException(400, exc.message) from exc
        with _cloud_errors():
            moved, said = faults.advance_clock(data, lab_state(), seconds)
        return moved | {"parties": {party.replace("_", "-"): text for party, text in said.items()}}

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
        return arm(data, lab_state(), body)

    @app.delete("/api/faults")
    def clear() -> dict[str, Any]:
        return {"failed": faults.clear(data, lab_state())}

    return app


def host_name(header: str) -> str:
    """The host of a Host header, without its port (`[::1]:8000` → `[::1]`)."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.partition(":")[0].lower()


async def party_health(data: Path, state: LabState) -> dict[str, dict[str, Any]]:
    """Each server of the lab: does it answer /health, and a word on what it said."""
    cloud_tls = ssl.create_default_context(cafile=str(tls_root_path(data)))
    checks: dict[str, tuple[str, ssl.SSLContext | bool]] = {
        "cloud": (state.url("cloud"), cloud_tls),
        "ca": (state.url("ca"), True),
        "ndes": (state.url("ndes"), True),
    }
    if state.policy == "intune":
        checks["connector"] = (state.url("connector"), policy_module_context(data))
        checks["ndes-general"] = (state.url("ndes_general"), True)

    async def one(url: str, verify: ssl.SSLContext | bool) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(verify=verify, timeout=HEALTH_TIMEOUT) as client:
                answer = await client.get(f"{url}/health", headers={PARTY_HEADER: OBSERVER})
        except (httpx.HTTPError, OSError) as exc:
            return {"up": False, "url": url, "detail": f"not answering ({type(exc).__name__})"}
        if answer.status_code != 200:
            return {"up": False, "url": url, "detail": f"HTTP {answer.status_code}"}
        try:
            body = answer.json()
        except ValueError:
            body = None
        return {"up": True, "url": url, "detail": _health_word(body), "body": body}

    names = list(checks)
    said = await asyncio.gather(*(one(*checks[name]) for name in names))
    return dict(zip(names, said, strict=True))


def _shown(said: dict[str, Any]) -> dict[str, Any]:
    """A party's health as the page shows it (not the whole body it answered)."""
    return {key: value for key, value in said.items() if key != "body"}


async def published_certificates(
    state: LabState, health: dict[str, dict[str, Any]]
) -> dict[str, x509.Certificate]:
    """The certificates parties publish: NDES's RA pair (GetCACert, as any SCEP client gets it)
    and the connector's identity (its health, to the policy module's certificate)."""
    found: dict[str, x509.Certificate] = {}
    scep_url = state.scep_url
    try:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT) as client:
            answer = await client.get(
                scep_url, params={"operation": "GetCACert"}, headers={PARTY_HEADER: OBSERVER}
            )
        if answer.status_code == 200:
            certificates, _ = scep.parse_certs_only(answer.content)
            found |= ra_pair(certificates)
    except (httpx.HTTPError, OSError, scep.ScepError, ValueError):
        pass  # NDES down: the map shows what it can
    identity = (health.get("connector", {}).get("body") or {}).get("identity") or {}
    if isinstance(identity.get("certificate"), str):
        with contextlib.suppress(ValueError):
            found["connector-identity"] = x509.load_pem_x509_certificate(
                identity["certificate"].encode("ascii")
            )
    return found


def _health_word(body: Any) -> str:
    if isinstance(body, dict) and "outboxPending" in body:
        return f"{body['outboxPending']} report(s) waiting in its outbox"
    if isinstance(body, dict) and isinstance(body.get("raSigning"), dict):
        return f"RA certificates until {str(body['raSigning'].get('notAfter', '?'))[:10]}"
    return "answers"


@contextlib.contextmanager
def _cloud_errors() -> Iterator[None]:
    try:
        yield
    except LabCallFailed as exc:
        raise HTTPException(502, str(exc)) from exc
    except httpx.HTTPStatusError as exc:
        raise HTTPException(502, f"HTTP {exc.response.status_code} from the lab") from exc
    except httpx.HTTPError as exc:
        raise HTTPException(502, f"the lab's cloud is not reachable: {exc}") from exc


def _passed_on(answer: httpx.Response) -> None:
    if answer.status_code >= 400:
        try:
            detail = answer.json()
        except ValueError:
            detail = answer.text[:300]
        raise HTTPException(answer.status_code, detail)


def intune_view(cloud: CloudAdmin, state: LabState) -> dict[str, Any]:
    """Devices, profiles with their assignments, connectors and the certificate report, as the
    administrator reads them from Graph."""
    devices = cloud.value(state, f"{GRAPH}/managedDevices")
    profiles = cloud.value(state, f"{GRAPH}/deviceConfigurations")
    connectors = cloud.value(state, f"{GRAPH}/ndesConnectors")
    report = []
    for profile in profiles:
        base = f"{GRAPH}/deviceConfigurations/{profile['id']}"
        profile["assignments"] = cloud.value(state, f"{base}/assignments")
        if "scep" not in str(profile.get("@odata.type", "")).lower():
            continue
        for row in cloud.value(state, f"{base}/managedDeviceCertificateStates"):
            report.append(
                {
                    "profile": profile.get("displayName"),
                    "profileId": profile["id"],
                    "deviceName": row.get("deviceDisplayName"),
                    "user": row.get("userDisplayName"),
                    "errorCode": row.get("certificateErrorCode"),
                    "platform": row.get("devicePlatform"),
                    "state": row.get("certificateIssuanceState"),
                    "revokeStatus": row.get("certificateRevokeStatus"),
                    "serialNumber": (row.get("certificateSerialNumber") or "").lower(),
                    "expirationDateTime": row.get("certificateExpirationDateTime"),
                    "changed": row.get("lastCertificateStateChangeDateTime"),
                }
            )
    for profile in profiles:
        profile.pop("trustedRootCertificate", None)  # the map shows it; the table need not
    return {"devices": devices, "profiles": profiles, "connectors": connectors, "report": report}


def ca_row(row: dict[str, Any]) -> dict[str, Any]:
    """One request of the CA database (`GET /ca/requests`) as the console's table shows it."""
    try:
        disposition = Disposition(int(row.get("disposition", 0))).name.lower()
    except ValueError:
        disposition = str(row.get("disposition"))
    return {
        "id": row.get("requestId"),
        "subject": row.get("subject"),
        "serial": str(row.get("serialNumber") or "").lower(),
        "status": "revoked" if row.get("revokedAt") else disposition,
        "template": row.get("template"),
        "requester": row.get("requester"),
        "submitted": row.get("submittedAt"),
        "revoked_at": row.get("revokedAt"),
        "revocation_reason": row.get("revocationReason"),
        "transaction_id": row.get("transactionId"),
        "hresult": row.get("hresult"),
    }


def arm(data: Path, state: LabState, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /api/faults`: what `scep-lab fault inject` does, from a form."""
    point = str(body.get("point", ""))
    if point not in faults.POINTS:
        raise HTTPException(400, f"no fault point {point!r}: one of {', '.join(faults.POINTS)}")
    if point in faults.CLOCK_POINTS:
        if body.get("confirm") is not True:
            raise HTTPException(400, f"{point} moves the lab's clock for good: confirm it")
        with _cloud_errors():
            moved, said = faults.expire(data, state, point)
        parties = {party.replace("_", "-"): text for party, text in said.items()}
        return {"armed": f"{point}: the lab's clock is now {moved['now']}", "parties": parties}
    try:
        call = faults.fault_call(
            point,
            status=int(body.get("status") or 503),
            times=int(body["times"]) if body.get("times") else None,
            hresult=body.get("hresult") or None,
            caps=body.get("caps") or None,
            template=body.get("template") or None,
            slot=str(body.get("slot") or "all"),
            restart_after=float(body.get("restart_after") or 0.0),
        )
    except (faults.FaultError, ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from exc
    try:
        answer = faults.send(data, state, call)
    except (LabCallFailed, httpx.HTTPError, OSError) as exc:
        raise HTTPException(502, f"the lab's {call.party} is not reachable: {exc}") from exc
    _passed_on(answer)
    return {"armed": faults.armed_text(point, call)}
