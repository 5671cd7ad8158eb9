"""The connector API: sign-in by an administrator gives an identity certificate from the Intune
Connector CA; then only that certificate, live, current and of a connector not deleted, opens the
mutual-TLS API. In process, the TLS layer is played by a wrapper that puts the client certificate
into the ASGI TLS extension exactly as shared.tls does (tests/e2e/test_tls_scope.py covers it)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from cloud_sim.management import list_connectors
from shared.clock import FixedClock
from shared.pki import (
    CertProfile,
    CsrSpec,
    KeySpec,
    build_csr,
    generate_key,
    issue_certificate,
    new_serial,
)

from .admin_support import db
from .identity_support import Lab, app_fixture, cheap_hashes_fixture, lab_fixture, user_token  # noqa: F401 (fixtures)

INTUNE = "https://api.manage.microsoft.com//.default"


def _with_client_cert(app: FastAPI, cert: x509.Certificate | None) -> httpx.AsyncClient:
    pem = cert.public_bytes(serialization.Encoding.PEM).decode() if cert else None

    async def tls_app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            scope = dict(scope, extensions={"tls": {"client_cert_chain": (pem,) if pem else ()}})
        await app(scope, receive, send)

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=tls_app), base_url="https://cloud.test"
    )


def _csr() -> tuple[str, object]:
    key = generate_key(KeySpec("rsa", 2048))
    csr = build_csr(
        key, CsrSpec(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ndes01")]))
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode(), key


async def _enroll(client: httpx.AsyncClient, lab: Lab) -> x509.Certificate:
    token = await user_token(client, lab.intune_admin, scope=INTUNE)
    csr, _ = _csr()
    response = await client.post(
        "/connector/enroll",
        json={"certificateRequest": csr, "machineName": "NDES01.contoso.test"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    cert = x509.load_der_x509_certificate(base64.b64decode(body["certificate"]))
    assert cert.subject.rfc4514_string() == f"CN={body['connectorId']}"
    assert cert.issuer.rfc4514_string() == "CN=Microsoft Intune ImportPFX Connector CA"
    return cert


@pytest.fixture
async def connector(
    app: FastAPI, lab: Lab, client: httpx.AsyncClient
) -> AsyncIterator[tuple[x509.Certificate, httpx.AsyncClient]]:
    cert = await _enroll(client, lab)
    async with _with_client_cert(app, cert) as mtls:
        yield cert, mtls


async def test_sign_in_registers_an_active_connector(
    app: FastAPI, lab: Lab, connector: tuple[x509.Certificate, httpx.AsyncClient]
) -> None:
    cert, mtls = connector
    assert (
        await mtls.post("/connector/heartbeat", json={"connectorVersion": "6.2405.1.0"})
    ).status_code == 204
    async with db(app) as session:
        connectors = await list_connectors(session, lab.tenant.id)
    assert [c.id for c in connectors] == [
        cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ]
    assert connectors[0].connector_version == "6.2405.1.0"
    assert connectors[0].state_at(app.state.cloud.clock.now()).value == "active"


async def test_no_certificate_is_401_and_a_foreign_one_403(
    app: FastAPI, connector: tuple[x509.Certificate, httpx.AsyncClient]
) -> None:
    async with _with_client_cert(app, None) as anonymous:
        assert (await anonymous.post("/connector/heartbeat", json={})).status_code == 401
    key = generate_key(KeySpec("rsa", 2048))
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "Microsoft Intune ImportPFX Connector CA")]
    )
    forged = issue_certificate(
        subject=name,
        public_key=key.public_key(),
        issuer_cert=None,
        issuer_key=key,
        serial=new_serial(),
        not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        profile=CertProfile(validity=dt.timedelta(days=3650), ekus=("1.3.6.1.5.5.7.3.2",)),
    )
    async with _with_client_cert(app, forged) as intruder:
        response = await intruder.post("/connector/heartbeat", json={})
    assert response.status_code == 403
    assert "Connector CA" in response.text


async def test_an_expired_certificate_is_refused_by_the_lab_clock(
    connector: tuple[x509.Certificate, httpx.AsyncClient], clock: FixedClock
) -> None:
    _, mtls = connector
    clock.advance(dt.timedelta(days=400))
    response = await mtls.post("/connector/heartbeat", json={})
    assert response.status_code == 403
    assert "expired" in response.text


async def test_a_deleted_connector_is_refused_at_once(
    app: FastAPI,
    lab: Lab,
    client: httpx.AsyncClient,
    connector: tuple[x509.Certificate, httpx.AsyncClient],
) -> None:
    cert, mtls = connector
    connector_id = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    token = await user_token(client, lab.intune_admin)
    deleted = await client.delete(
        f"/beta/deviceManagement/ndesConnectors/{connector_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert deleted.status_code == 204, deleted.text
    assert (await mtls.post("/connector/heartbeat", json={})).status_code == 403


async def test_renewal_supersedes_the_old_certificate_once_the_new_one_is_used(
    app: FastAPI, connector: tuple[x509.Certificate, httpx.AsyncClient]
) -> None:
    """The old certificate still works until the new one is first presented: a renewal answer
    lost on the way does not lock the connector out (it renews again with the old one)."""
    old, mtls = connector
    lost, _ = _csr()
    first = await mtls.post("/connector/renew", json={"certificateRequest": lost})
    assert first.status_code == 200, first.text
    csr, _ = _csr()
    response = await mtls.post("/connector/renew", json={"certificateRequest": csr})
    assert response.status_code == 200, response.text  # the old one, after a lost answer
    new = x509.load_der_x509_certificate(base64.b64decode(response.json()["certificate"]))
    assert new.subject == old.subject and new.serial_number != old.serial_number
    assert (await mtls.post("/connector/heartbeat", json={})).status_code == 204  # still old
    async with _with_client_cert(app, new) as renewed:
        assert (await renewed.post("/connector/heartbeat", json={})).status_code == 204
    assert (await mtls.post("/connector/heartbeat", json={})).status_code == 403  # retired


async def test_only_licensed_administrators_sign_connectors_in(
    client: httpx.AsyncClient, lab: Lab
) -> None:
    csr, _ = _csr()
    for user, status in ((lab.reader, 403), (lab.user, 403)):
        token = await user_token(client, user, scope=INTUNE)
        response = await client.post(
            "/connector/enroll",
            json={"certificateRequest": csr, "machineName": "x"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == status, response.text


async def test_the_scep_actions_need_the_connector_certificate(
    app: FastAPI, connector: tuple[x509.Certificate, httpx.AsyncClient]
) -> None:
    _, mtls = connector
    body = {
        "request": {"transactionId": "t-1", "certificateRequest": "AAAA", "callerInfo": "connector"}
    }
    answer = await mtls.post("/connector/scep/validateRequest", json=body)
    assert answer.status_code == 200
    assert answer.json()["code"] == "CertificateRequestDecodingFailed"
    async with _with_client_cert(app, None) as anonymous:
        assert (
            await anonymous.post("/connector/scep/validateRequest", json=body)
        ).status_code == 401
