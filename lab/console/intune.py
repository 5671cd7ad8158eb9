"""The Intune side as the console shows it: the cloud's Graph API as the demo tenant's
administrator (one token kept between calls), and the enterprise CA's database beside it."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import HTTPException

from shared.api.ca import Disposition
from shared.api.entra import password_grant, token_path
from shared.trace import OBSERVER, PARTY_HEADER

from ..challenge import LabCallFailed
from ..home import LabState, tls_root_path

GRAPH = "/beta/deviceManagement"
TOKEN_MARGIN = 300.0
"""A kept token is renewed this many seconds before it expires."""


def graph_path(*parts: str) -> str:
    """A Graph path with ids from a request quoted (an id of `..` stays an id)."""
    return "/".join((GRAPH, *(quote(part, safe="") for part in parts)))


class CloudAdmin:
    """The cloud's Graph API as the demo tenant's administrator: one token and one HTTPS client
    (its connections) kept between calls, from any thread."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self._token: tuple[str, str, float] | None = None  # tenant, token, valid until
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self, state: LabState) -> httpx.Client:
        with self._lock:
            url = state.url("cloud")
            if self._client is None or str(self._client.base_url).rstrip("/") != url:
                if self._client is not None:
                    self._client.close()
                verify = ssl.create_default_context(cafile=str(tls_root_path(self.data)))
                self._client = httpx.Client(base_url=url, verify=verify, timeout=30)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

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
                headers={PARTY_HEADER: "admin"},  # recorded: the console signs in
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
        party = "admin" if change else OBSERVER
        client = self._http(state)
        token = self._sign_in(client, state)
        headers = {"authorization": f"Bearer {token}", PARTY_HEADER: party}
        answer = client.request(method, path, headers=headers, **kwargs)
        if answer.status_code == 401:  # the kept token is no longer good: once more
            with self._lock:
                self._token = None
            headers["authorization"] = f"Bearer {self._sign_in(client, state)}"
            answer = client.request(method, path, headers=headers, **kwargs)
        return answer

    def clock(self, state: LabState) -> dict[str, Any]:
        """The lab's clock (`GET /lab/clock`: `now`, `offsetSeconds`), with the kept token."""
        answer = self.call(state, "GET", "/lab/clock")
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def value(self, state: LabState, path: str) -> list[dict[str, Any]]:
        answer = self.call(state, "GET", path)
        if answer.status_code != 200:
            raise HTTPException(502, f"the cloud answered HTTP {answer.status_code} for {path}")
        found: list[dict[str, Any]] = answer.json().get("value", [])
        return found


@contextlib.contextmanager
def cloud_errors() -> Iterator[None]:
    """A call to the lab that failed, as the console's answer: the party's own refusal (4xx)
    passed on, anything else a 502 that says what could not be reached."""
    try:
        yield
    except LabCallFailed as exc:
        raise HTTPException(502, str(exc)) from exc
    except httpx.HTTPStatusError as exc:
        passed_on(exc.response)
    except httpx.HTTPError as exc:
        raise HTTPException(502, f"the lab's cloud is not reachable: {exc}") from exc


def passed_on(answer: httpx.Response) -> None:
    """A party's refusal, as the console's answer (its status and detail)."""
    if answer.status_code >= 400:
        try:
            detail = answer.json()
        except ValueError:
            detail = answer.text[:300]
        if isinstance(detail, dict) and "detail" in detail:
            detail = detail["detail"]
        status = answer.status_code if answer.status_code < 500 else 502
        raise HTTPException(status, detail)


def intune_view(cloud: CloudAdmin, state: LabState) -> dict[str, Any]:
    """Devices, profiles with their assignments, connectors and the certificate report, as the
    administrator reads them from Graph."""
    devices = cloud.value(state, graph_path("managedDevices"))
    profiles = cloud.value(state, graph_path("deviceConfigurations"))
    connectors = cloud.value(state, graph_path("ndesConnectors"))
    report = []
    for profile in profiles:
        profile.pop("trustedRootCertificate", None)  # the map shows it; the table need not
        base = graph_path("deviceConfigurations", str(profile["id"]))
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
