"""Support for the background agents' tests: the REAL enterprise CA (ca_sim) in process on the
connector tests' lab PKI and clock, behind a transport a test may take down; certificates issued
by it (through the whole connector flow, or straight at the CA); and the cloud's view of the
revocation queue and of the connector."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pydantic import SecretStr

from ca_sim.app import create_app as create_ca
from ca_sim.authority import Authority
from ca_sim.settings import CaSettings
from cloud_sim.management import (
    CertificateState,
    RevocationRequest,
    certificate_states_for_device,
    list_revocations,
)
from cloud_sim.management.enums import RevocationReason as CloudReason
from cloud_sim.management.revocations import queue_revocation
from connector.app import ConnectorContext
from shared.api.connector import NOTIFY_PATH, VERIFY_PATH
from shared.clock import FixedClock
from shared.pki import CsrSpec, KeySpec, LabCert, LabPki, build_csr, generate_key
from shared.scep.signed import sign
from shared.scep.types import Digest
from tests.api.cloud_sim.admin_support import db
from tests.api.cloud_sim.identity_support import Lab

from .service_support import Rig, SwitchableTransport, build_request, seed_enrolment

CA_URL = "http://ca.test"
CA_TOKEN = "ca-admin-token-for-the-connector-tests"
TEMPLATE = "IntuneDeviceCert"


@dataclass
class Ca:
    """The CA app, an admin client to it, and the transport the connector reaches it by."""

    app: FastAPI
    admin: httpx.AsyncClient
    transport: SwitchableTransport
    lab_pki: LabPki

    async def submit(self, csr_der: bytes) -> x509.Certificate:
        """What NDES does: the PKCS#10 countersigned by its enrolment agent, submitted."""
        agent_key = self.lab_pki.key(LabCert.NDES_ENROLLMENT_AGENT)
        assert isinstance(agent_key, rsa.RSAPrivateKey)
        signed = sign(
            csr_der,
            [],
            signer=self.lab_pki.cert(LabCert.NDES_ENROLLMENT_AGENT),
            key=agent_key,
            digest=Digest.SHA256,
            certificates=[self.lab_pki.cert(LabCert.NDES_ENROLLMENT_AGENT)],
        )
        body = {"request": base64.b64encode(signed).decode(), "template": TEMPLATE}
        reply = await self.admin.post("/ca/submit", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["disposition"] == 20, reply.json()  # issued
        return x509.load_der_x509_certificate(base64.b64decode(reply.json()["certificate"]))

    async def issue(self, common_name: str) -> x509.Certificate:
        key = generate_key(KeySpec.rsa(2048))
        spec = CsrSpec(
            x509.Name.from_rfc4514_string(f"CN={common_name}"),
            key_usage=frozenset({"digital_signature", "key_encipherment"}),
        )
        return await self.submit(build_csr(key, spec).public_bytes(serialization.Encoding.DER))

    async def revoke(self, cert: x509.Certificate) -> None:
        body = {"serialNumber": f"{cert.serial_number:x}", "reason": 1}
        reply = await self.admin.post("/ca/revoke", json=body)
        assert reply.json()["revoked"] is True, reply.text

    async def crl_entry(self, cert: x509.Certificate) -> x509.RevokedCertificate | None:
        """The certificate's entry on the issuing CA's CRL as published now, if any."""
        reply = await self.admin.get("/pki/issuing.crl")
        assert reply.status_code == 200, reply.text
        crl = x509.load_der_x509_crl(reply.content)
        return crl.get_revoked_certificate_by_serial_number(cert.serial_number)

    async def record(self, cert: x509.Certificate) -> dict[str, object]:
        """The CA database's row for the request that issued `cert` (disposition, reason)."""
        reply = await self.admin.get("/ca/requests", params={"limit": "1000"})
        assert reply.status_code == 200, reply.text
        [row] = [
            r
            for r in reply.json()
            if r.get("serialNumber") and int(r["serialNumber"], 16) == cert.serial_number
        ]
        assert isinstance(row, dict)
        return row


@pytest.fixture(name="ca")
async def ca_fixture(lab_pki: LabPki, clock: FixedClock, tmp_path: Path) -> AsyncIterator[Ca]:
    settings = CaSettings(
        data_dir=tmp_path / "ca",
        pki_dir=lab_pki.folder,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'ca.db'}",
        admin_token=SecretStr(CA_TOKEN),
        public_base_url=CA_URL,
    )
    root, issuing = LabCert.ROOT_CA, LabCert.ISSUING_CA
    authority = Authority(
        lab_pki.cert(root), lab_pki.key(root), lab_pki.cert(issuing), lab_pki.key(issuing), CA_URL
    )
    app = create_ca(settings, clock=clock, authority=authority)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url=CA_URL,
            headers={"Authorization": f"Bearer {CA_TOKEN}"},
        ) as admin,
    ):
        transport = SwitchableTransport(httpx.ASGITransport(app=manager.app))
        yield Ca(app, admin, transport, lab_pki)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` (an agent runs in the background) for at most 5 s."""
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within 5 s: {what}")


def context_of(rig: Rig) -> ConnectorContext:
    context: ConnectorContext = rig.connector.state.connector
    return context


@dataclass(frozen=True)
class Issued:
    device_id: str
    certificate: x509.Certificate


async def issue_through_connector(rig: Rig, ca: Ca, lab: Lab, lab_pki: LabPki, tx: str) -> Issued:
    """The whole flow for one device: challenge, verify at the connector, issue at the CA,
    notify, and the outbox's delivery into the cloud's certificate report."""
    enrolment = await seed_enrolment(rig.cloud, lab, lab_pki)
    csr, _ = build_request(enrolment.challenge)
    body = {"transactionId": tx, "certificateRequest": csr, "template": TEMPLATE}
    verified = await rig.local.post(VERIFY_PATH, json=body)
    assert verified.json()["verified"] is True, verified.text
    cert = await ca.submit(base64.b64decode(csr))
    der = cert.public_bytes(serialization.Encoding.DER)
    notify = {
        "transactionId": tx,
        "certificateRequest": csr,
        "disposition": 0,
        "issuedCertificate": base64.b64encode(der).decode(),
        "caConfiguration": "ca.lab.test\\Lab Issuing CA",
    }
    assert (await rig.local.post(NOTIFY_PATH, json=notify)).json() == {"queued": True}
    await context_of(rig).worker.run_once()  # deliver now rather than wait for the worker
    assert await context_of(rig).store.pending_count() == 0
    return Issued(enrolment.device_id, cert)


async def queue(
    app: FastAPI, lab: Lab, cert: x509.Certificate | str, now: dt.datetime
) -> RevocationRequest:
    """A revocation request straight into the cloud's queue (no certificate state behind it)."""
    serial = cert if isinstance(cert, str) else f"{cert.serial_number:x}"
    async with db(app) as session:
        return await queue_revocation(
            session,
            lab.tenant.id,
            serial_number=serial,
            issuer_name="CN=Lab Issuing CA",
            ca_configuration="ca.lab.test\\Lab Issuing CA",
            reason=CloudReason.RETIRE,
            now=now,
        )


async def revocations(app: FastAPI, lab: Lab) -> dict[str, RevocationRequest]:
    """The cloud's queue by request context."""
    async with db(app) as session:
        return {r.request_context: r for r in await list_revocations(session, lab.tenant.id)}


async def states(app: FastAPI, lab: Lab, device_id: str) -> list[CertificateState]:
    async with db(app) as session:
        return await certificate_states_for_device(session, lab.tenant.id, device_id)
