"""The connector's lab routes (`CONNECTOR_LAB_API=true`), for the policy module's certificate
only: `/lab/outbox` shows the reports (no bodies) and which instance answers; `/lab/crash`
answers, then ends the process (`os._exit`, replaced here) or hands over to an embedding
runner's hook; `cancel_agents` stops the background agents where they stand."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

import connector.lab
from connector.app import create_app
from connector.lab import cancel_agents, set_crash_hook
from connector.settings import ConnectorSettings
from shared.api.connector import NOTIFY_PATH, VERIFY_PATH
from shared.clock import FixedClock
from shared.pki import LabPki
from tests.api.cloud_sim.identity_support import (  # noqa: F401 (fixtures)
    Lab,
    app_fixture,
    cheap_hashes_fixture,
    lab_fixture,
)

from .service_support import (  # noqa: F401 (fixtures)
    build_request,
    clock_fixture,
    issue_for,
    lab_pki_fixture,
    seed_enrolment,
    self_signed,
    settings_fixture,
    start_connector,
    with_client_cert,
)


async def _served(local: httpx.AsyncClient, app: FastAPI, lab: Lab, lab_pki: LabPki) -> str:
    """One verified, issued and notified request: its transaction ID."""
    enrolment = await seed_enrolment(app, lab, lab_pki)
    csr, key = build_request(enrolment.challenge)
    verify = {"transactionId": "tx-lab", "certificateRequest": csr, "template": "T"}
    assert (await local.post(VERIFY_PATH, json=verify)).json()["verified"]
    der = issue_for(lab_pki, csr, key).public_bytes(serialization.Encoding.DER)
    notify = {
        "transactionId": "tx-lab",
        "certificateRequest": csr,
        "disposition": 0,
        "issuedCertificate": base64.b64encode(der).decode(),
    }
    assert (await local.post(NOTIFY_PATH, json=notify)).json() == {"queued": True}
    return "tx-lab"


async def test_the_outbox_the_crash_and_who_may_call_them(
    app: FastAPI,
    lab: Lab,
    lab_pki: LabPki,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    died: list[str] = []
    monkeypatch.setattr(connector.lab, "_die", lambda: died.append("os._exit"))
    async with start_connector(app, lab, clock, tmp_path / "connector", lab_api=True) as rig:
        first = (await rig.local.get("/lab/outbox")).json()
        assert first["entries"] == [] and first["pending"] == 0
        tid = await _served(rig.local, app, lab, lab_pki)
        for _ in range(250):
            shown = (await rig.local.get("/lab/outbox")).json()
            if shown["entries"] and shown["entries"][0]["deliveredAt"]:
                break
            await asyncio.sleep(0.02)
        [entry] = shown["entries"]
        assert entry["transactionId"] == tid and entry["kind"] == "success"
        assert entry["certificateSerialNumber"] and entry["attempts"] == 1
        assert "certificateRequest" not in entry  # no bodies: they carry CSRs
        assert shown["instance"] == first["instance"] and shown["pending"] == 0
        later = (await rig.local.get("/lab/outbox", params={"after": entry["id"]})).json()
        assert later["entries"] == []

        for cert, status in ((None, 401), (self_signed("intruder"), 403)):
            async with httpx.AsyncClient(
                transport=with_client_cert(rig.connector, cert), base_url="https://connector.test"
            ) as other:
                assert (await other.post("/lab/crash", json={})).status_code == status
                assert (await other.get("/lab/outbox")).status_code == status
        assert died == []

        alone = await rig.local.post("/lab/crash", json={})
        assert alone.status_code == 202 and alone.json()["restartAfterSeconds"] is None
        assert died == ["os._exit"]  # answered first, then the process ends

        delays: list[float] = []

        async def hook(delay: float) -> None:
            delays.append(delay)

        set_crash_hook(rig.connector, hook)
        embedded = await rig.local.post("/lab/crash", json={"restartAfterSeconds": 3})
        assert embedded.json()["restartAfterSeconds"] == 3.0
        assert delays == [3.0] and died == ["os._exit"]
        assert (await rig.local.post("/lab/crash", json={"restartAfterSeconds": -1})).is_error

        tasks: list[asyncio.Task[None]] = rig.connector.state.agent_tasks
        assert cancel_agents(rig.connector) == len(tasks) >= 3
        await asyncio.gather(*tasks, return_exceptions=True)
        assert all(task.cancelled() for task in tasks)
        assert cancel_agents(rig.connector) == 0


async def test_without_the_lab_api_there_are_no_lab_routes(tmp_path: Path) -> None:
    settings = ConnectorSettings(data_dir=tmp_path, policy_module_thumbprints=["00"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)), base_url="https://c.test"
    ) as client:
        assert (await client.get("/lab/outbox")).status_code == 404
        assert (await client.post("/lab/crash", json={})).status_code == 404
