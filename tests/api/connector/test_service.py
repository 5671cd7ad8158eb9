"""The connector's local API against the REAL cloud in process: verify asks the cloud to
validate the challenge; notify keeps a report in the outbox, which the worker delivers to the
cloud's certificate report, exactly once even across a cloud outage."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Awaitable, Callable

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from cloud_sim.challenges import IssuedChallenge
from cloud_sim.management import certificate_states_for_device
from connector.store import SqlOutboxStore
from shared.api.connector import NOTIFY_PATH, VERIFY_PATH
from shared.clock import FixedClock
from shared.pki import CsrSpec, KeySpec, LabPki, PrivateKey, San, build_csr, generate_key
from tests.api.cloud_sim.admin_support import db
from tests.api.cloud_sim.identity_support import (  # noqa: F401 (fixtures)
    Lab,
    app_fixture,
    cheap_hashes_fixture,
    lab_fixture,
)

from .service_support import (  # noqa: F401 (fixtures)
    Rig,
    build_request,
    clock_fixture,
    issue_for,
    lab_pki_fixture,
    rig_fixture,
    seed_enrolment,
    self_signed,
    settings_fixture,
    thumbprint,
    with_client_cert,
)


def _verify(tx: str, csr: str) -> dict[str, object]:
    return {"transactionId": tx, "certificateRequest": csr, "template": "IPSECIntermediateOffline"}


def _notify(tx: str, csr: str, issued: bytes) -> dict[str, object]:
    return {
        "transactionId": tx,
        "certificateRequest": csr,
        "disposition": 0,
        "issuedCertificate": base64.b64encode(issued).decode(),
        "caConfiguration": "ca.lab.test\\Lab Issuing CA",
    }


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` (the worker runs in the background) for at most 5 s."""
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not reached within 5 s")


async def _delivered(rig: Rig) -> None:
    store: SqlOutboxStore = rig.connector.state.connector.store

    async def nothing_pending() -> bool:
        return await store.pending_count() == 0

    await _eventually(nothing_pending)


async def test_verify_notify_and_delivery_reach_the_cloud_report(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki
) -> None:
    enrolment = await seed_enrolment(app, lab, lab_pki)
    csr, key = build_request(enrolment.challenge)
    verified = await rig.local.post(VERIFY_PATH, json=_verify("tx-ok", csr))
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True and verified.json()["code"] == "Success"

    issued = issue_for(lab_pki, csr, key)
    der = issued.public_bytes(serialization.Encoding.DER)
    queued = await rig.local.post(NOTIFY_PATH, json=_notify("tx-ok", csr, der))
    assert queued.status_code == 200, queued.text
    assert queued.json() == {"queued": True}
    await _delivered(rig)
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert [(s.issuance_state.value, s.serial_number, s.thumbprint) for s in states] == [
        ("issued", f"{issued.serial_number:x}", thumbprint(issued))
    ]
    health = (await rig.local.get("/health")).json()
    assert health["outboxPending"] == 0 and health["identityNotAfter"].startswith("2027-11-01")


async def test_a_mismatching_subject_is_not_verified(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki
) -> None:
    enrolment = await seed_enrolment(app, lab, lab_pki)
    csr, _ = build_request(enrolment.challenge, subject="CN=Administrator")
    answer = (await rig.local.post(VERIFY_PATH, json=_verify("tx-evil", csr))).json()
    assert answer["verified"] is False
    assert answer["code"] == "SubjectNameMismatch"
    assert answer["hresult"] == 0x80070057


async def test_a_cloud_outage_keeps_the_report_until_it_is_delivered_once(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki, clock: FixedClock
) -> None:
    enrolment = await seed_enrolment(app, lab, lab_pki)
    csr, key = build_request(enrolment.challenge)
    assert (await rig.local.post(VERIFY_PATH, json=_verify("tx-down", csr))).json()["verified"]
    rig.transport.down = True
    down = (await rig.local.post(VERIFY_PATH, json=_verify("tx-other", csr))).json()
    assert (down["verified"], down["code"], down["hresult"]) == (
        False,
        "ServiceUnavailable",
        0x800706BA,
    )
    issued = issue_for(lab_pki, csr, key)
    der = issued.public_bytes(serialization.Encoding.DER)
    queued = await rig.local.post(NOTIFY_PATH, json=_notify("tx-down", csr, der))
    assert queued.json() == {"queued": True}
    store: SqlOutboxStore = rig.connector.state.connector.store

    async def attempted() -> bool:
        return any(entry.attempts for entry in await store.entries())

    await _eventually(attempted)
    assert await store.pending_count() == 1

    rig.transport.down = False
    clock.advance(dt.timedelta(minutes=10))  # past the backoff
    await _delivered(rig)
    [entry] = await store.entries()
    assert entry.attempts >= 1 and entry.delivered_at is not None and entry.refusal is None
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert [s.serial_number for s in states if s.issuance_state.value == "issued"] == [
        f"{issued.serial_number:x}"
    ]


async def test_a_connector_whose_identity_expired_is_refused_and_says_no_at_once(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki, clock: FixedClock
) -> None:
    """The cloud refuses an expired identity certificate (by its clock); the connector answers
    NDES at once with a negative verdict (NDES then sends the device a FAILURE), not a hang."""
    enrolment = await seed_enrolment(app, lab, lab_pki)
    csr, _ = build_request(enrolment.challenge)
    identity = x509.load_pem_x509_certificate(
        rig.settings.effective_identity_cert_path.read_bytes()
    )
    clock.advance(identity.not_valid_after_utc - clock.now() + dt.timedelta(seconds=1))

    answer = await asyncio.wait_for(
        rig.local.post(VERIFY_PATH, json=_verify("tx-late", csr)), timeout=10
    )

    assert answer.status_code == 200, answer.text
    verdict = answer.json()
    assert (verdict["verified"], verdict["code"], verdict["hresult"]) == (
        False,
        "ServiceUnavailable",
        0x800706BA,
    )
    assert "403" in verdict["description"]


async def test_the_local_api_needs_an_allowed_policy_module_certificate(rig: Rig) -> None:
    body = _verify("tx-x", "AAAA")
    async with httpx.AsyncClient(
        transport=with_client_cert(rig.connector, None), base_url="https://connector.test"
    ) as anonymous:
        assert (await anonymous.post(VERIFY_PATH, json=body)).status_code == 401
    async with httpx.AsyncClient(
        transport=with_client_cert(rig.connector, self_signed("intruder")),
        base_url="https://connector.test",
    ) as intruder:
        refused = await intruder.post(NOTIFY_PATH, json=body | {"disposition": 2})
    assert refused.status_code == 403 and "not an allowed" in refused.text
    assert "/connector/scep/validateRequest" not in rig.transport.calls


def _renewal_csr(challenge: IssuedChallenge) -> tuple[str, PrivateKey]:
    """A request for the same identity without a challenge, with a new key."""
    key = generate_key(KeySpec.rsa(2048))
    spec = CsrSpec(
        subject=x509.Name.from_rfc4514_string(challenge.subject),
        sans=tuple(San(kind, value) for kind, value in challenge.sans),
        ekus=challenge.ekus,
        key_usage=challenge.key_usage,  # type: ignore[arg-type]
    )
    der = build_csr(key, spec).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode(), key


async def test_a_renewal_signed_by_the_issued_certificate_is_verified(
    rig: Rig, app: FastAPI, lab: Lab, lab_pki: LabPki
) -> None:
    """Windows renews with a PKCSReq signed by its certificate and no challenge: NDES passes
    the signer, the connector hands it to the cloud, which knows the certificate it saw issued."""
    enrolment = await seed_enrolment(app, lab, lab_pki)
    csr, key = build_request(enrolment.challenge)
    assert (await rig.local.post(VERIFY_PATH, json=_verify("tx-first", csr))).json()["verified"]
    old = issue_for(lab_pki, csr, key)
    old_b64 = base64.b64encode(old.public_bytes(serialization.Encoding.DER)).decode()
    await rig.local.post(NOTIFY_PATH, json=_notify("tx-first", csr, base64.b64decode(old_b64)))
    await _delivered(rig)
    renewal, new_key = _renewal_csr(enrolment.challenge)
    stranger = base64.b64encode(
        self_signed("CN=LAPTOP-9").public_bytes(serialization.Encoding.DER)
    ).decode()

    def verify(tx: str, signer: str | None, request: str = renewal) -> dict[str, object]:
        return _verify(tx, request) | {"signerCertificate": signer}

    unknown = (await rig.local.post(VERIFY_PATH, json=verify("tx-r0", stranger))).json()
    no_signer = (await rig.local.post(VERIFY_PATH, json=verify("tx-r1", None))).json()
    renewed = (await rig.local.post(VERIFY_PATH, json=verify("tx-r2", old_b64))).json()

    assert (unknown["verified"], unknown["code"]) == (False, "SigningCertThumbprintMismatch")
    assert (no_signer["verified"], no_signer["code"]) == (False, "ChallengePasswordMissing")
    assert (renewed["verified"], renewed["code"]) == (True, "Success")
    new = issue_for(lab_pki, renewal, new_key)
    await rig.local.post(
        NOTIFY_PATH, json=_notify("tx-r2", renewal, new.public_bytes(serialization.Encoding.DER))
    )
    await _delivered(rig)
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert {s.serial_number for s in states if s.issuance_state.value == "issued"} == {
        f"{old.serial_number:x}",
        f"{new.serial_number:x}",
    }
