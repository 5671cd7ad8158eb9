"""Microsoft's third-party SCEP validation API against a real challenge: validate, notify,
revoke — with a client written from the published wire shapes (bearer token from the token
endpoint, `api-version`, `client-request-id`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from cloud_sim.challenges import IssuedChallenge, issue_challenge
from cloud_sim.management import (
    certificate_states_for_device,
    retire_device,
)
from cloud_sim.management.records import SYSTEM_ACTOR
from shared.pki import CsrSpec, KeySpec, LabPki, San, build_csr, generate_key

from .admin_support import db, seed_windows_device
from .identity_support import (  # noqa: F401 (fixtures)
    INTUNE_SCOPE,
    Lab,
    app_fixture,
    app_token,
    cheap_hashes_fixture,
    lab_fixture,
    user_token,
)

SCEP = "/RACerts/ScepRequestValidationFEService/ScepActions"
PKI = "/RACerts/PkiConnectorFEService/CertificateAuthorityRequests"
HEADERS = {"api-version": "2018-02-20", "client-request-id": "3f2a9c1e-0000-4000-8000-000000000001"}


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    profile_id: str
    challenge: IssuedChallenge
    token: str


@pytest.fixture
async def enrolment(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> Enrolment:
    device_id, (profile_id,) = await seed_windows_device(
        app, lab.tenant.id, lab.user.id, lab.user.user_principal_name, lab_pki
    )
    async with db(app) as session:
        issued = await issue_challenge(
            session, app.state.cloud, lab.tenant.id, device_id, profile_id
        )
    token = await app_token(client, lab.scep_app.app_id, lab.scep_secret)
    return Enrolment(device_id, profile_id, issued, token)


def _csr(challenge: IssuedChallenge, *, subject: str | None = None) -> str:
    key = generate_key(KeySpec("rsa", challenge.key_size))
    spec = CsrSpec(
        subject=x509.Name.from_rfc4514_string(subject or challenge.subject),
        sans=tuple(San(kind, value) for kind, value in challenge.sans),
        ekus=challenge.ekus,
        key_usage=challenge.key_usage,  # type: ignore[arg-type]
        challenge_password=challenge.challenge,
    )
    return base64.b64encode(build_csr(key, spec).public_bytes(serialization.Encoding.DER)).decode()


async def _post(
    client: httpx.AsyncClient, path: str, token: str, body: dict[str, object], **headers: str
) -> httpx.Response:
    return await client.post(
        path, json=body, headers={"Authorization": f"Bearer {token}", **HEADERS, **headers}
    )


def _validate(transaction: str, csr: str) -> dict[str, object]:
    return {
        "request": {
            "transactionId": transaction,
            "certificateRequest": csr,
            "callerInfo": "lab-test/1.0",
        }
    }


def _success(transaction: str, csr: str, serial: str = "1a2b3c") -> dict[str, object]:
    return {
        "notification": {
            "transactionId": transaction,
            "certificateRequest": csr,
            "certificateThumbprint": "ab" * 20,
            "certificateSerialNumber": serial,
            "certificateExpirationDateUtc": "2027-11-01T09:00:00.0904778Z",
            "issuingCertificateAuthority": "CN=Lab Issuing CA",
            "callerInfo": "lab-test/1.0",
            "caConfiguration": "ca.lab.test\\Lab Issuing CA",
            "certificateAuthority": "ca.lab.test",
        }
    }


async def test_validate_then_notify_then_replay(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    csr = _csr(enrolment.challenge)
    validated = await _post(
        client, f"{SCEP}/validateRequest", enrolment.token, _validate("tx-1", csr)
    )
    assert validated.status_code == 200, validated.text
    assert validated.json()["code"] == "Success"
    assert "errorDescription" in validated.json()
    assert validated.headers["client-request-id"] == HEADERS["client-request-id"]

    for _ in range(2):  # a repeated delivery answers the same and changes nothing
        notified = await _post(
            client, f"{SCEP}/successNotification", enrolment.token, _success("tx-1", csr)
        )
        assert notified.json()["code"] == "Success", notified.text
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    issued = [s for s in states if s.serial_number == "1a2b3c"]
    assert len(issued) == 1
    assert issued[0].thumbprint == "AB" * 20

    replay = await _post(
        client,
        f"{SCEP}/validateRequest",
        enrolment.token,
        _validate("tx-2", _csr(enrolment.challenge)),
    )
    assert replay.json()["code"] == "BadCertificateRequestIdInChallenge"


async def test_another_identity_is_refused_and_recorded(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    csr = _csr(enrolment.challenge, subject="CN=Administrator")
    response = await _post(
        client, f"{SCEP}/validateRequest", enrolment.token, _validate("tx-evil", csr)
    )
    assert response.json()["code"] == "SubjectNameMismatch"
    # a success notification for a refused request is refused too: nothing becomes "issued"
    notified = await _post(
        client, f"{SCEP}/successNotification", enrolment.token, _success("tx-evil", csr)
    )
    assert notified.json()["code"] != "Success"
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert [s.issuance_state.value for s in states] == ["challengeValidationFailed"]


async def test_failure_notification(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    csr = _csr(enrolment.challenge)
    await _post(client, f"{SCEP}/validateRequest", enrolment.token, _validate("tx-f", csr))
    body = {
        "notification": {
            "transactionId": "tx-f",
            "certificateRequest": csr,
            "hResult": -2146875392,
            "errorDescription": "CERTSRV_E_UNSUPPORTED_CERT_TYPE",
            "callerInfo": "lab-test/1.0",
        }
    }
    assert (await _post(client, f"{SCEP}/failureNotification", enrolment.token, body)).json()[
        "code"
    ] == "Success"
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert states[0].issuance_state.value == "issueFailed"
    assert states[0].error_code == -2146875392


async def test_retire_then_revocation_round_trip(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    csr = _csr(enrolment.challenge)
    await _post(client, f"{SCEP}/validateRequest", enrolment.token, _validate("tx-r", csr))
    await _post(
        client, f"{SCEP}/successNotification", enrolment.token, _success("tx-r", csr, serial="77aa")
    )
    async with db(app) as session:
        await retire_device(
            session,
            lab.tenant.id,
            enrolment.device_id,
            actor=SYSTEM_ACTOR,
            now=app.state.cloud.clock.now(),
        )
    headers = {"api-version": "5019-05-05"}
    download = await _post(
        client,
        f"{PKI}/downloadRevocationRequests",
        enrolment.token,
        {"downloadParameters": {"maxRequests": 10, "issuerName": None}},
        **headers,
    )
    assert download.status_code == 200, download.text
    requests = download.json()["value"]
    assert [r["serialNumber"] for r in requests] == ["77aa"]
    # Java sends codes as numeric strings, C# as names: both are understood
    upload = await _post(
        client,
        f"{PKI}/uploadRevocationResults",
        enrolment.token,
        {
            "results": [
                {
                    "requestContext": requests[0]["requestContext"],
                    "succeeded": True,
                    "errorCode": "0",
                    "errorMessage": "",
                }
            ]
        },
        **headers,
    )
    assert upload.json() == {"value": True}
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert states[0].revoke_status.value == "revoked"
    again = await _post(
        client,
        f"{PKI}/downloadRevocationRequests",
        enrolment.token,
        {"downloadParameters": {"maxRequests": 10}},
        **headers,
    )
    assert again.json()["value"] == []


async def test_access_is_checked(client: httpx.AsyncClient, lab: Lab, enrolment: Enrolment) -> None:
    body = _validate("tx-x", _csr(enrolment.challenge))
    assert (await client.post(f"{SCEP}/validateRequest", json=body)).status_code == 401
    graph_only = await app_token(client, lab.graph_only_app.app_id, lab.graph_only_secret)
    assert (await _post(client, f"{SCEP}/validateRequest", graph_only, body)).status_code == 403
    wrong_version = await _post(
        client, f"{SCEP}/validateRequest", enrolment.token, body, **{"api-version": "1999-01-01"}
    )
    assert wrong_version.status_code == 400


async def test_the_openapi_description_lists_the_validation_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert f"{SCEP}/validateRequest" in paths
    assert f"{PKI}/uploadRevocationResults" in paths


async def test_revocation_results_as_csharp_sends_them(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    """The C# library sends enum names, and PascalCase properties under its global setting."""
    csr = _csr(enrolment.challenge)
    await _post(client, f"{SCEP}/validateRequest", enrolment.token, _validate("tx-c", csr))
    await _post(
        client, f"{SCEP}/successNotification", enrolment.token, _success("tx-c", csr, serial="88bb")
    )
    async with db(app) as session:
        await retire_device(
            session,
            lab.tenant.id,
            enrolment.device_id,
            actor=SYSTEM_ACTOR,
            now=app.state.cloud.clock.now(),
        )
    headers = {"api-version": "5019-05-05"}
    requests = (
        await _post(
            client,
            f"{PKI}/downloadRevocationRequests",
            enrolment.token,
            {"downloadParameters": {"maxRequests": 5}},
            **headers,
        )
    ).json()["value"]
    body = {
        "Results": [
            {
                "RequestContext": requests[0]["requestContext"],
                "Succeeded": False,
                "ErrorCode": "ConflictError",
                "ErrorMessage": "already revoked",
            }
        ]
    }
    assert (
        await _post(client, f"{PKI}/uploadRevocationResults", enrolment.token, body, **headers)
    ).json() == {"value": True}
    unknown = {
        "results": [
            {
                "requestContext": requests[0]["requestContext"],
                "succeeded": False,
                "errorCode": "NoSuchCode",
            }
        ]
    }
    assert (
        await _post(client, f"{PKI}/uploadRevocationResults", enrolment.token, unknown, **headers)
    ).status_code == 400
    async with db(app) as session:
        states = await certificate_states_for_device(session, lab.tenant.id, enrolment.device_id)
    assert states[0].revoke_status.value == "revoked"  # ConflictError: already revoked counts


async def test_lab_faults_answer_the_armed_calls_then_stop(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    admin_token = await user_token(client, lab.intune_admin, scope=INTUNE_SCOPE)
    admin = {"Authorization": f"Bearer {admin_token}"}
    csr = _csr(enrolment.challenge)
    armed = await client.put("/lab/faults/notification", headers=admin, json={"times": 2})
    assert armed.status_code == 204, armed.text
    listed = await client.get("/lab/faults", headers=admin)
    assert listed.json() == {"notification": {"status": 503, "times": 2}}

    validated = await _post(client, f"{SCEP}/validateRequest", enrolment.token, _validate("f", csr))
    answers = [
        (await _post(client, f"{SCEP}/successNotification", enrolment.token, _success("f", csr)))
        for _ in range(3)
    ]

    assert validated.json()["code"] == "Success"  # only the armed point fails
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[2].json()["code"] == "Success"
    assert (await client.get("/lab/faults", headers=admin)).json() == {}
    assert (await client.put("/lab/faults/validation", headers=admin, json={})).status_code == 204
    refused = await _post(client, f"{SCEP}/validateRequest", enrolment.token, _validate("g", csr))
    assert refused.status_code == 503
    assert (await client.delete("/lab/faults", headers=admin)).status_code == 204
    assert (await client.put("/lab/faults/bogus", headers=admin, json={})).status_code == 422
    assert (
        await client.put("/lab/faults/validation", headers=admin, json={"status": 200})
    ).status_code == 422
    user = {"Authorization": f"Bearer {await user_token(client, lab.user, scope=INTUNE_SCOPE)}"}
    assert (await client.put("/lab/faults/validation", headers=user, json={})).status_code == 403


async def test_a_validated_request_holds_its_challenge_until_it_fails(
    client: httpx.AsyncClient, enrolment: Enrolment
) -> None:
    """The challenge is this request's from its validation on, not from the (possibly much
    later) success report: a second request with it is refused at once. The same request may
    be validated again; a failure report frees the challenge."""
    first, second, third = (_csr(enrolment.challenge) for _ in range(3))
    validate = f"{SCEP}/validateRequest"

    async def code(transaction: str, csr: str) -> str:
        answer = await _post(client, validate, enrolment.token, _validate(transaction, csr))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["code"])

    assert await code("tx-a", first) == "Success"
    assert await code("tx-b", second) == "BadCertificateRequestIdInChallenge"
    assert await code("tx-a", first) == "Success"  # the same request, resent
    assert await code("tx-a", second) == "BadCertificateRequestIdInChallenge"  # another CSR
    failed = await _post(
        client,
        f"{SCEP}/failureNotification",
        enrolment.token,
        {
            "notification": {
                "transactionId": "tx-a",
                "certificateRequest": first,
                "hResult": -2146875392,
                "errorDescription": "the CA refused",
                "callerInfo": "lab-test/1.0",
            }
        },
    )
    assert failed.json()["code"] == "Success"
    assert await code("tx-c", third) == "Success"


async def test_the_lab_clock_reads_and_refuses_to_move_a_clock_that_is_not_virtual(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    admin = {
        "Authorization": f"Bearer {await user_token(client, lab.intune_admin, scope=INTUNE_SCOPE)}"
    }
    shown = await client.get("/lab/clock", headers=admin)
    assert shown.status_code == 200 and shown.json()["movable"] is False
    moved = await client.post("/lab/clock", headers=admin, json={"advanceSeconds": 3660})
    assert moved.status_code == 409
    assert (
        await client.post("/lab/clock", headers=admin, json={"advanceSeconds": -1})
    ).status_code == 422
    assert (await client.get("/lab/clock")).status_code == 401
