"""The connector's background agents against the REAL cloud and the REAL CA in process: the
heartbeat keeps the connector active in Intune's list; the revocation agent takes the cloud's
queue to the CA and reports back, through CA and cloud outages; the identity renewal replaces
the key pair before it expires, and the cloud then sees the new certificate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from cloud_sim.management import CONNECTOR_ACTIVE_WINDOW, NdesConnector, get_connector
from cloud_sim.management.enums import (
    CertificateIssuanceState,
    CertificateRevokeStatus,
    ConnectorState,
    RevocationState,
)
from cloud_sim.management.enums import RevocationReason as CloudReason
from cloud_sim.management.revocations import revoke_device_certificates
from cloud_sim.store.connectors import ClientIdentityRow
from connector.ca import HttpCaRevoker
from connector.cloud import CloudClient
from connector.renewal import IdentityRenewer
from connector.revocation import RevocationAgent
from shared.api.ca import Disposition
from shared.clock import FixedClock
from shared.pki import (
    LabPki,
    check_key_pair,
    load_certificate_file,
    load_private_key_file,
    private_key_pem,
)
from tests.api.cloud_sim.admin_support import db
from tests.api.cloud_sim.identity_support import (  # noqa: F401 (fixtures)
    Lab,
    app_fixture,
    cheap_hashes_fixture,
    lab_fixture,
)

from .agent_support import (  # noqa: F401 (fixtures)
    CA_TOKEN,
    CA_URL,
    Ca,
    ca_fixture,
    context_of,
    eventually,
    issue_through_connector,
    queue,
    revocations,
    states,
)
from .service_support import (  # noqa: F401 (fixtures)
    Rig,
    SwitchableTransport,
    clock_fixture,
    lab_pki_fixture,
    rig_fixture,
    settings_fixture,
    start_connector,
    with_client_cert,
)

UPLOAD = "/connector/revocation/upload"
DOWNLOAD = "/connector/revocation/download"


def connector_id(rig: Rig) -> str:
    cert = load_certificate_file(rig.settings.effective_identity_cert_path)
    [cn] = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cn.value)


async def listed(app: FastAPI, lab: Lab, rig: Rig) -> NdesConnector:
    async with db(app) as session:
        return await get_connector(session, lab.tenant.id, connector_id(rig))


def uploaded(transport: SwitchableTransport) -> list[dict[str, object]]:
    """Every result the agent uploaded through `transport`, in order."""
    return [
        result
        for path, body in transport.bodies
        if path == UPLOAD
        for result in json.loads(body)["results"]
    ]


def agent_for(rig: Rig, ca: Ca, clock: FixedClock, *, batch: int = 100) -> RevocationAgent:
    """A revocation agent on the connector's own cloud client and the CA's transport."""
    revoker = HttpCaRevoker(CA_URL, CA_TOKEN, ca.transport)
    return RevocationAgent(context_of(rig).cloud, revoker, clock, batch=batch)


# -- heartbeat -----------------------------------------------------------------------------------


async def test_heartbeats_keep_the_connector_active_and_silence_makes_it_inactive(
    rig: Rig, app: FastAPI, lab: Lab, clock: FixedClock
) -> None:
    heartbeat = context_of(rig).heartbeat
    clock.advance(dt.timedelta(minutes=1))
    assert await heartbeat.run_once()
    seen = await listed(app, lab, rig)
    assert seen.last_connection_at == clock.now()
    assert seen.state_at(clock.now()) is ConnectorState.ACTIVE
    assert seen.connector_version == rig.settings.connector_version  # the beat's own body
    health = (await rig.local.get("/health")).json()
    assert health["heartbeat"] == {"lastSuccess": clock.now().isoformat(), "lastError": None}

    clock.advance(CONNECTOR_ACTIVE_WINDOW + dt.timedelta(seconds=1))  # no beat meanwhile
    assert (await listed(app, lab, rig)).state_at(clock.now()) is ConnectorState.INACTIVE

    assert await heartbeat.run_once()
    again = await listed(app, lab, rig)
    assert again.last_connection_at == clock.now()
    assert again.state_at(clock.now()) is ConnectorState.ACTIVE


async def test_a_failed_heartbeat_shows_on_health_until_the_next_one_succeeds(
    rig: Rig, clock: FixedClock
) -> None:
    heartbeat = context_of(rig).heartbeat
    assert await heartbeat.run_once()
    before = clock.now()
    rig.transport.down = True
    clock.advance(dt.timedelta(minutes=5))
    assert not await heartbeat.run_once()
    health = (await rig.local.get("/health")).json()["heartbeat"]
    assert health["lastSuccess"] == before.isoformat()
    assert health["lastError"]["at"] == clock.now().isoformat()
    assert "ConnectError" in health["lastError"]["message"]

    rig.transport.down = False
    assert await heartbeat.run_once()
    assert (await rig.local.get("/health")).json()["heartbeat"]["lastError"] is None


async def test_the_app_beats_at_start(rig: Rig, app: FastAPI, lab: Lab) -> None:
    async def beaten() -> bool:
        return context_of(rig).heartbeat.last_success is not None

    await eventually(beaten, "a heartbeat at start")
    health = (await rig.local.get("/health")).json()
    assert health["heartbeat"]["lastSuccess"] is not None
    assert (await listed(app, lab, rig)).connector_version == rig.settings.connector_version
    assert health["revocation"] == {
        "enabled": False,
        "lastPass": None,
        "lastError": None,
        "pendingUploads": 0,
    }


# -- revocation ----------------------------------------------------------------------------------


async def test_a_retired_device_certificate_is_revoked_at_the_ca_and_reported(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki, clock: FixedClock, ca: Ca
) -> None:
    issued = await issue_through_connector(rig, ca, lab, lab_pki, "tx-retire")
    async with db(app) as session:
        [request] = await revoke_device_certificates(
            session, lab.tenant.id, issued.device_id, CloudReason.RETIRE, now=clock.now()
        )
    agent = agent_for(rig, ca, clock)

    done = await agent.run_once()

    assert (done.downloaded, done.uploaded, done.kept) == (1, 1, 0)
    assert uploaded(rig.transport) == [
        {
            "requestContext": request.request_context,
            "succeeded": True,
            "errorCode": "None",
            "errorMessage": f"certificate {issued.certificate.serial_number:x} revoked",
        }
    ]
    row = await ca.record(issued.certificate)
    assert row["disposition"] == Disposition.REVOKED
    entry = await ca.crl_entry(issued.certificate)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason is x509.ReasonFlags.cessation_of_operation
    assert (await revocations(app, lab))[request.request_context].state is RevocationState.REVOKED
    [state] = await states(app, lab, issued.device_id)
    assert state.revoke_status is CertificateRevokeStatus.REVOKED
    assert state.issuance_state is CertificateIssuanceState.REVOKED
    assert agent.last_pass == clock.now() and agent.last_error is None

    assert (await agent.run_once()).downloaded == 0  # nothing left in the queue


async def test_already_revoked_counts_as_revoked_and_an_unknown_serial_fails(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki, clock: FixedClock, ca: Ca
) -> None:
    issued = await issue_through_connector(rig, ca, lab, lab_pki, "tx-twice")
    await ca.revoke(issued.certificate)  # an administrator was quicker
    async with db(app) as session:
        [twice] = await revoke_device_certificates(
            session, lab.tenant.id, issued.device_id, CloudReason.WIPE, now=clock.now()
        )
    unknown = await queue(app, lab, "0123456789abcdef", clock.now())

    done = await agent_for(rig, ca, clock).run_once()

    assert [(r.request_context, r.succeeded, r.error_code) for r in done.results] == [
        (twice.request_context, False, "ConflictError"),
        (unknown.request_context, False, "CertificateNotFoundError"),
    ]
    queue_now = await revocations(app, lab)
    conflict = queue_now[twice.request_context]
    assert conflict.state is RevocationState.REVOKED
    assert conflict.error_code is not None and conflict.error_code.wire_name == "ConflictError"
    [state] = await states(app, lab, issued.device_id)
    assert state.revoke_status is CertificateRevokeStatus.REVOKED
    failed = queue_now[unknown.request_context]
    assert failed.state is RevocationState.FAILED
    assert failed.error_code is not None and failed.error_code.wire_name == (
        "CertificateNotFoundError"
    )
    assert failed.error_message is not None and "0x80070002" in failed.error_message
    # the CA kept the first revocation's reason: the agent did not revoke a second time
    assert (await ca.record(issued.certificate))["revocationReason"] == 1


async def test_a_ca_outage_puts_the_requests_back_and_the_next_pass_revokes_them(
    rig: Rig, app: FastAPI, lab: Lab, clock: FixedClock, ca: Ca
) -> None:
    first, second = await ca.issue("device-a"), await ca.issue("device-b")
    requests = [await queue(app, lab, cert, clock.now()) for cert in (first, second)]
    agent = agent_for(rig, ca, clock)
    ca.transport.down = True

    down = await agent.run_once()

    assert ca.transport.calls == ["/ca/revoke"]  # the second one was not tried
    assert [(r["succeeded"], r["errorCode"]) for r in uploaded(rig.transport)] == [
        (False, "ServiceUnavailableException"),
        (False, "ServiceUnavailableException"),
    ]
    assert (down.downloaded, down.kept) == (2, 0)
    queue_now = await revocations(app, lab)
    assert [queue_now[r.request_context].state for r in requests] == [RevocationState.PENDING] * 2
    assert (
        agent.last_error is not None and "ServiceUnavailableException" in agent.last_error.message
    )
    assert (await ca.record(first))["disposition"] == Disposition.ISSUED

    ca.transport.down = False
    clock.advance(dt.timedelta(minutes=1))
    up = await agent.run_once()

    assert [r.succeeded for r in up.results] == [True, True]
    queue_now = await revocations(app, lab)
    assert [queue_now[r.request_context].state for r in requests] == [RevocationState.REVOKED] * 2
    for cert in (first, second):
        assert (await ca.record(cert))["disposition"] == Disposition.REVOKED
    assert agent.last_error is None


async def test_results_the_cloud_could_not_take_are_uploaded_before_the_next_download(
    rig: Rig, app: FastAPI, lab: Lab, clock: FixedClock, ca: Ca
) -> None:
    cert = await ca.issue("device-c")
    request = await queue(app, lab, cert, clock.now())
    agent = agent_for(rig, ca, clock)

    def cloud_goes_down(_: httpx.Request) -> None:
        rig.transport.down = True  # after the download, before the upload

    ca.transport.before = cloud_goes_down
    lost = await agent.run_once()

    assert (lost.downloaded, lost.uploaded, lost.kept) == (1, 0, 1)
    assert agent.pending_uploads == 1
    assert (await ca.record(cert))["disposition"] == Disposition.REVOKED
    assert (await revocations(app, lab))[request.request_context].state is (
        RevocationState.DOWNLOADED
    )
    assert agent.last_error is not None and agent.last_error.message.startswith("upload")

    ca.transport.before = None
    rig.transport.down = False
    later = await queue(app, lab, await ca.issue("device-d"), clock.now())
    rig.transport.calls.clear()
    again = await agent.run_once()

    assert rig.transport.calls == [UPLOAD, DOWNLOAD, UPLOAD]  # the kept results go first
    assert (again.downloaded, again.uploaded, again.kept) == (1, 2, 0)
    queue_now = await revocations(app, lab)
    assert queue_now[request.request_context].state is RevocationState.REVOKED
    assert queue_now[later.request_context].state is RevocationState.REVOKED
    assert agent.pending_uploads == 0 and agent.last_error is None


async def test_a_wrong_ca_token_is_an_authentication_error_the_cloud_retries(
    rig: Rig, app: FastAPI, lab: Lab, clock: FixedClock, ca: Ca
) -> None:
    cert = await ca.issue("device-e")
    request = await queue(app, lab, cert, clock.now())
    revoker = HttpCaRevoker(CA_URL, "not-the-token", ca.transport)
    agent = RevocationAgent(context_of(rig).cloud, revoker, clock)

    [result] = (await agent.run_once()).results

    assert (result.succeeded, result.error_code) == (False, "AuthenticationException")
    assert "not-the-token" not in (result.error_message or "")
    assert (await revocations(app, lab))[request.request_context].state is (RevocationState.PENDING)
    assert (await ca.record(cert))["disposition"] == Disposition.ISSUED


async def test_the_app_runs_the_revocation_agent_when_a_ca_is_configured(
    app: FastAPI, lab: Lab, lab_pki: LabPki, clock: FixedClock, ca: Ca, tmp_path: Path
) -> None:
    async with start_connector(
        app,
        lab,
        clock,
        tmp_path / "connector-ca",
        ca_transport=ca.transport,
        ca_url=CA_URL,
        ca_admin_token=CA_TOKEN,
        revocation_poll_seconds=0.05,
    ) as rig:
        issued = await issue_through_connector(rig, ca, lab, lab_pki, "tx-app")
        async with db(app) as session:
            [request] = await revoke_device_certificates(
                session, lab.tenant.id, issued.device_id, CloudReason.RETIRE, now=clock.now()
            )

        async def revoked() -> bool:
            state = (await revocations(app, lab))[request.request_context].state
            return state is RevocationState.REVOKED

        await eventually(revoked, "the background agent revokes")  # it polls every 50 ms
        assert (await ca.record(issued.certificate))["disposition"] == Disposition.REVOKED
        health = (await rig.local.get("/health")).json()["revocation"]
        assert health["enabled"] is True and health["pendingUploads"] == 0
        assert health["lastPass"] is not None and health["lastError"] is None
        assert CA_TOKEN not in json.dumps(health)


# -- identity renewal ----------------------------------------------------------------------------


async def test_near_expiry_the_identity_is_renewed_and_the_cloud_sees_the_new_one(
    app: FastAPI, lab: Lab, clock: FixedClock, tmp_path: Path
) -> None:
    async with start_connector(
        app, lab, clock, tmp_path / "connector-renew", identity_from_file=True
    ) as rig:
        settings = rig.settings
        old_cert = load_certificate_file(settings.effective_identity_cert_path)
        old_key_pem = settings.effective_identity_key_path.read_bytes()
        renewer = context_of(rig).renewer
        assert not await renewer.run_once()  # a year left: nothing to do
        clock.advance(old_cert.not_valid_after_utc - clock.now() - dt.timedelta(days=20))

        assert await renewer.run_once()

        new_cert = load_certificate_file(settings.effective_identity_cert_path)
        new_key = load_private_key_file(settings.effective_identity_key_path)
        check_key_pair(new_cert, new_key)
        assert new_cert.serial_number != old_cert.serial_number
        assert private_key_pem(new_key) != old_key_pem
        assert new_cert.subject == old_cert.subject
        assert new_cert.not_valid_after_utc > clock.now() + dt.timedelta(days=364)  # a new year
        assert settings.effective_identity_key_path.stat().st_mode & 0o777 == 0o600
        async with db(app) as session:
            current = await session.get(ClientIdentityRow, ("connector", connector_id(rig)))
        assert current is not None and current.serial_number == f"{new_cert.serial_number:x}"

        clock.advance(dt.timedelta(minutes=1))
        assert await context_of(rig).heartbeat.run_once()  # the old one would be refused now
        assert (await listed(app, lab, rig)).last_connection_at == clock.now()
        async with httpx.AsyncClient(
            transport=with_client_cert(app, old_cert), base_url="https://cloud.test"
        ) as stale:
            refused = await stale.post("/connector/heartbeat", json={})
        assert refused.status_code == 403 and "current" in refused.text

        health = (await rig.local.get("/health")).json()
        expiry = new_cert.not_valid_after_utc.isoformat()
        assert health["identityNotAfter"] == expiry
        assert health["identity"]["notAfter"] == expiry
        shown = x509.load_pem_x509_certificate(health["identity"]["certificate"].encode())
        assert shown == new_cert  # the renewed one, public (the lab console's trust map)
        assert (
            health["identity"]["lastRenewal"] == (clock.now() - dt.timedelta(minutes=1)).isoformat()
        )
        assert not await renewer.run_once()  # the new one is not due


async def test_a_failed_renewal_keeps_the_old_identity_and_retries(
    app: FastAPI, lab: Lab, clock: FixedClock, tmp_path: Path
) -> None:
    async with start_connector(
        app, lab, clock, tmp_path / "connector-fail", identity_from_file=True
    ) as rig:
        settings = rig.settings
        cert_bytes = settings.effective_identity_cert_path.read_bytes()
        key_bytes = settings.effective_identity_key_path.read_bytes()
        old_cert = load_certificate_file(settings.effective_identity_cert_path)
        clock.advance(old_cert.not_valid_after_utc - clock.now() - dt.timedelta(days=5))
        renewer = context_of(rig).renewer
        rig.transport.down = True

        assert not await renewer.run_once()

        assert settings.effective_identity_cert_path.read_bytes() == cert_bytes
        assert settings.effective_identity_key_path.read_bytes() == key_bytes
        assert sorted(p.name for p in settings.data_dir.iterdir() if p.name.endswith(".tmp")) == []
        error = (await rig.local.get("/health")).json()["identity"]["lastError"]
        assert error is not None and "ConnectError" in error["message"]

        rig.transport.down = False
        assert await renewer.run_once()
        renewed = load_certificate_file(settings.effective_identity_cert_path)
        assert renewed.serial_number != old_cert.serial_number
        assert (await rig.local.get("/health")).json()["identity"]["lastError"] is None


async def test_renewal_writes_where_the_settings_point(
    app: FastAPI, lab: Lab, clock: FixedClock, tmp_path: Path
) -> None:
    """Identity files outside the data folder are renewed in place."""
    async with start_connector(
        app, lab, clock, tmp_path / "connector-paths", identity_from_file=True
    ) as rig:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        cert_path, key_path = elsewhere / "connector.crt", elsewhere / "connector.key"
        cert_path.write_bytes(rig.settings.effective_identity_cert_path.read_bytes())
        key_path.write_bytes(rig.settings.effective_identity_key_path.read_bytes())
        settings = rig.settings.model_copy(
            update={"identity_cert_path": cert_path, "identity_key_path": key_path}
        )
        cloud = CloudClient.from_settings(settings, transport=rig.transport)
        old = load_certificate_file(cert_path)
        clock.advance(old.not_valid_after_utc - clock.now() - dt.timedelta(days=1))
        assert await IdentityRenewer(settings, cloud, clock).run_once()
        renewed = load_certificate_file(cert_path)
        check_key_pair(renewed, load_private_key_file(key_path))
        assert renewed.serial_number != old.serial_number
        await cloud.aclose()
