"""Managed devices: MDM enrolment gives an identity from the MDM Device CA; check-in hands out
trusted certificates and SCEP profiles with fresh challenges that validate; a profile the device
cannot satisfy fails visibly; state reports reach the certificate report."""

from __future__ import annotations

import base64

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from cloud_sim.management import (
    certificate_states_for_device,
    device_statuses_for_profile,
)
from shared.pki import CsrSpec, KeySpec, LabCert, LabPki, San, build_csr, generate_key

from .admin_support import db, seed_windows_device
from .identity_support import (  # noqa: F401 (fixtures)
    Lab,
    app_fixture,
    app_token,
    cheap_hashes_fixture,
    lab_fixture,
    user_token,
)
from .test_connector_api import _with_client_cert

INTUNE = "https://api.manage.microsoft.com//.default"


async def _setup(app: FastAPI, lab: Lab, lab_pki: LabPki) -> tuple[str, str, str]:
    """LAPTOP-9 with a good SCEP profile and one naming {{IMEINumber}}, which it cannot supply."""
    device_id, (good, imei) = await seed_windows_device(
        app,
        lab.tenant.id,
        lab.user.id,
        lab.user.user_principal_name,
        lab_pki,
        device_name="LAPTOP-9",
        profiles=({}, {"displayName": "IMEI cert", "subjectNameFormatString": "CN={{IMEINumber}}"}),
    )
    return device_id, good, imei


async def _mdm_certificate(client: httpx.AsyncClient, token: str, device_id: str) -> httpx.Response:
    key = generate_key(KeySpec("rsa", 2048))
    csr = build_csr(
        key, CsrSpec(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
    )
    return await client.post(
        "/devices/enroll",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "deviceId": device_id,
            "certificateRequest": base64.b64encode(
                csr.public_bytes(serialization.Encoding.DER)
            ).decode(),
        },
    )


async def test_enrol_check_in_validate_and_report(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, profile_id, imei_id = await _setup(app, lab, lab_pki)
    enrolled = await _mdm_certificate(
        client, await user_token(client, lab.user, scope=INTUNE), device_id
    )
    assert enrolled.status_code == 200, enrolled.text
    mdm = x509.load_der_x509_certificate(base64.b64decode(enrolled.json()["certificate"]))
    assert mdm.issuer.rfc4514_string() == "CN=Microsoft Intune MDM Device CA"

    async with _with_client_cert(app, mdm) as device:
        payload = (await device.post("/devices/checkin")).json()
        assert [t["thumbprint"] for t in payload["trustedCertificates"]] == [
            lab_pki.cert(LabCert.ISSUING_CA)
            .fingerprint(
                __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA1"]).SHA1()
            )
            .hex()
            .upper()
        ]
        by_id = {p["profileId"]: p for p in payload["scepProfiles"]}
        assert "IMEI" in by_id[imei_id]["error"]  # a Windows laptop has no IMEI: the profile fails
        scep = by_id[profile_id]
        assert scep["subjectName"] == "CN=LAPTOP-9"
        assert scep["subjectAlternativeNames"] == [
            {"type": "dns", "value": "LAPTOP-9.contoso.test"}
        ]

        key = generate_key(KeySpec("rsa", scep["keySize"]))
        csr = build_csr(
            key,
            CsrSpec(
                subject=x509.Name.from_rfc4514_string(scep["subjectName"]),
                sans=tuple(San(s["type"], s["value"]) for s in scep["subjectAlternativeNames"]),
                ekus=tuple(scep["extendedKeyUsages"]),
                key_usage=frozenset(scep["keyUsage"]),
                challenge_password=scep["challenge"],
            ),
        )
        token = await app_token(client, lab.scep_app.app_id, lab.scep_secret)
        verdict = await client.post(
            "/RACerts/ScepRequestValidationFEService/ScepActions/validateRequest",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "request": {
                    "transactionId": "tx-dev",
                    "certificateRequest": base64.b64encode(
                        csr.public_bytes(serialization.Encoding.DER)
                    ).decode(),
                }
            },
        )
        assert verdict.json()["code"] == "Success", verdict.text

        reported = await device.post(
            "/devices/status",
            json={
                "profileId": profile_id,
                "state": "installed",
                "serialNumber": "abc1",
                "thumbprint": "CD" * 20,
            },
        )
        assert reported.status_code == 204, reported.text
    async with db(app) as session:
        states = {
            s.configuration_id: s
            for s in await certificate_states_for_device(session, lab.tenant.id, device_id)
        }
        statuses = await device_statuses_for_profile(session, lab.tenant.id, profile_id)
    assert states[imei_id].issuance_state.value == "challengeIssueFailed"
    assert states[profile_id].issuance_state.value == "installed"
    assert [s.status.value for s in statuses] == ["Succeeded"]


async def test_only_the_devices_user_or_an_admin_enrols_it(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, _, _ = await _setup(app, lab, lab_pki)
    stranger = await user_token(client, lab.reader, scope=INTUNE)  # read-only: not enough
    assert (await _mdm_certificate(client, stranger, device_id)).status_code == 403
    admin = await user_token(client, lab.intune_admin, scope=INTUNE)
    assert (await _mdm_certificate(client, admin, device_id)).status_code == 200


async def test_a_connector_certificate_is_not_a_device_identity(
    app: FastAPI, lab: Lab, lab_pki: LabPki
) -> None:
    async with _with_client_cert(app, lab_pki.cert(LabCert.INTUNE_CONNECTOR_CA)) as wrong:
        assert (await wrong.post("/devices/checkin")).status_code == 403
    async with _with_client_cert(app, None) as anonymous:
        assert (await anonymous.post("/devices/checkin")).status_code == 401


async def test_the_lab_challenge_route(
    app: FastAPI, lab: Lab, lab_pki: LabPki, client: httpx.AsyncClient
) -> None:
    device_id, profile_id, imei_id = await _setup(app, lab, lab_pki)
    admin = {"Authorization": f"Bearer {await user_token(client, lab.intune_admin, scope=INTUNE)}"}
    answer = await client.post(
        "/lab/challenge", headers=admin, json={"deviceId": device_id, "profileId": profile_id}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject"] == "CN=LAPTOP-9"
    assert body["keySize"] == 2048
    assert body["challenge"].isascii()
    failing = await client.post(
        "/lab/challenge", headers=admin, json={"deviceId": device_id, "profileId": imei_id}
    )
    assert failing.status_code == 400
    assert "IMEI" in failing.text
    user = {"Authorization": f"Bearer {await user_token(client, lab.user, scope=INTUNE)}"}
    assert (
        await client.post(
            "/lab/challenge", headers=user, json={"deviceId": device_id, "profileId": profile_id}
        )
    ).status_code == 403
