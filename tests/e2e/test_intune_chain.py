"""The Intune chain end to end, each party its own process on loopback with real TLS: a device
(micromdm's scepclient, or the lab's codec client for the attacks) → NDES with Intune's policy
module → the connector (mutual TLS both ways) → the cloud; NDES issues through the CA; the
connector's outbox reports back; its revocation agent revokes what the cloud asks.

The tests share one chain and run in file order: the last one deletes the connector."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab import driver
from lab.challenge import request_spec, write_scepclient_files
from shared import scep
from shared.pki import (
    CertProfile,
    LabCert,
    PrivateKey,
    build_csr,
    issue_certificate,
    new_serial,
    private_key_pem,
)
from tests.support.clients import have_scepclient, openssl_verify, run_scepclient
from tests.support.labproc import scep_lab

from .intune_support import (
    E_INVALIDARG,
    RPC_S_SERVER_UNAVAILABLE,
    WINDOWS_DEVICE,
    Chain,
    device_key,
    parse_when,
    start_chain,
    thumbprint,
    wait_for,
)

pytestmark = pytest.mark.e2e

IPHONE = "LAB-IPHONE-01"
IPHONE_PROFILE = "Lab user certificate (iOS)"
PIXEL = "LAB-PIXEL-01"
PIXEL_PROFILE = "Lab user certificate (Android work profile)"
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    started = start_chain(tmp_path_factory.mktemp("intune-chain") / "lab")
    try:
        yield started
    finally:
        started.stop_all()


def pkcs_req(chain: Chain, key: PrivateKey, spec: Any) -> driver.Exchange:
    """One PKCSReq by the lab's codec client (POST), the CertRep verified and opened."""

    async def run() -> driver.Exchange:
        async with httpx.AsyncClient(timeout=60) as client:
            ca = await driver.fetch_ca_info(client, chain.state.scep_url)
            return await driver.request(client, chain.state.scep_url, ca, key, spec)  # type: ignore[arg-type]

    return asyncio.run(run())


def enrol(
    chain: Chain, device: str = WINDOWS_DEVICE, profile: str | None = None
) -> x509.Certificate:
    found = chain.challenge(device, profile) if profile else chain.challenge(device)
    key = device_key(found["keySize"])
    return pkcs_req(chain, key, request_spec(found)).certificate


def assert_refused(exchange: driver.Exchange, hresult: int) -> None:
    result = exchange.result
    assert result.status is scep.PkiStatus.FAILURE, result
    assert result.fail_info is scep.FailInfo.BAD_REQUEST
    assert result.hresult is not None and result.hresult & 0xFFFFFFFF == hresult


def test_ndes_with_the_intune_module_hands_out_no_password(chain: Chain) -> None:
    bare = httpx.get(chain.state.scep_url, timeout=10)
    assert bare.status_code == 403


def test_only_the_policy_module_may_call_the_connector(chain: Chain, tmp_path: Path) -> None:
    """Over real TLS: no client certificate → 401; one that is not for client authentication
    or does not chain to the enterprise root → no handshake; another client certificate of the
    enterprise CA → 403; the policy module's → 200 (a verdict)."""
    url = f"{chain.state.url('connector')}/policy/verifyRequest"
    body = {"transactionId": "tx-probe", "certificateRequest": "AAAA", "template": "x"}
    issuing, issuing_key = chain.pki.cert(LabCert.ISSUING_CA), chain.pki.key(LabCert.ISSUING_CA)
    other_key = device_key()
    other = issue_certificate(
        subject=x509.Name.from_rfc4514_string("CN=ndes.lab.test,OU=Another service"),
        public_key=other_key.public_key(),
        issuer_cert=issuing,
        issuer_key=issuing_key,
        serial=new_serial(),
        not_before=issuing.not_valid_before_utc,
        profile=CertProfile(validity=dt.timedelta(days=365), ekus=("1.3.6.1.5.5.7.3.2",)),
    )

    def call(cert_pem: bytes | None, key: PrivateKey | None = None) -> int:
        context = ssl.create_default_context(cafile=str(chain.pki.path(LabCert.ROOT_CA)))
        if cert_pem is not None and key is not None:
            (tmp_path / "cert.pem").write_bytes(cert_pem)
            (tmp_path / "key.pem").write_bytes(private_key_pem(key))
            context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
        return httpx.post(url, json=body, verify=context, timeout=10).status_code

    def pem(*certs: x509.Certificate) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

    assert call(None) == 401
    agent = LabCert.NDES_ENROLLMENT_AGENT  # Certificate Request Agent EKU only
    with pytest.raises(httpx.TransportError):
        call(chain.pki.chain_pem(agent, include_root=False), chain.pki.key(agent))
    with pytest.raises(httpx.TransportError):  # no issuing CA sent: no path to the root
        call(pem(other), other_key)
    assert call(pem(other, issuing), other_key) == 403
    module = LabCert.NDES_POLICY_MODULE
    assert call(chain.pki.chain_pem(module, include_root=False), chain.pki.key(module)) == 200


@pytest.mark.skipif(not have_scepclient(), reason="scepclient not installed")
def test_scepclient_enrols_with_a_challenge_from_the_cloud(chain: Chain, tmp_path: Path) -> None:
    """As the README shows it: `scep-lab challenge --write DIR` leaves the key and the request
    the profile asks for where scepclient looks for them; scepclient does the SCEP exchange."""
    workdir = tmp_path / "scepclient"
    written = scep_lab("challenge", "--data", chain.data, "--write", workdir, "--json")
    assert written.returncode == 0, written.stderr
    found = json.loads(written.stdout)
    key = serialization.load_pem_private_key((workdir / "key.pem").read_bytes(), None)

    enrolled = run_scepclient(
        found["scepServerUrls"][0], workdir, cn=WINDOWS_DEVICE, challenge=None, allow_reuse=True
    )

    assert enrolled.ok, enrolled.describe() + chain.log("connector")[-3000:]
    cert = enrolled.load_certificate()
    assert cert.subject.rfc4514_string() == found["subject"]
    assert cert.public_key() == key.public_key()
    ok, output = openssl_verify(
        enrolled.cert_path,
        [chain.pki.cert(LabCert.ISSUING_CA), chain.pki.cert(LabCert.ROOT_CA)],
    )
    assert ok, output
    state = wait_for("the cloud's report", lambda: chain.issued_state(WINDOWS_DEVICE, cert))
    assert state["certificateIssuanceState"] == "issued"
    assert state["certificateThumbprint"].upper() == thumbprint(cert)
    assert parse_when(state["certificateExpirationDateTime"]) == cert.not_valid_after_utc
    assert "4008 ScepNotifySuccess" in chain.log("connector")


@pytest.mark.skipif(not have_scepclient(), reason="scepclient not installed")
def test_scepclient_renews_with_a_renewalreq_signed_by_its_certificate(
    chain: Chain, tmp_path: Path
) -> None:
    """No challenge in the renewal: the certificate the cloud saw issued vouches for it."""
    found = chain.challenge()
    key = device_key(found["keySize"])
    workdir = tmp_path / "scepclient"
    write_scepclient_files(workdir, key, build_csr(key, request_spec(found)))
    url = found["scepServerUrls"][0]
    first = run_scepclient(url, workdir, cn=WINDOWS_DEVICE, challenge=None, allow_reuse=True)
    assert first.ok, first.describe()
    old = first.load_certificate()
    wait_for("the first report", lambda: chain.issued_state(WINDOWS_DEVICE, old))
    renewal_spec = replace(request_spec(found), challenge_password=None)
    write_scepclient_files(workdir, key, build_csr(key, renewal_spec))

    renewed = run_scepclient(url, workdir, cn=WINDOWS_DEVICE, challenge=None)

    assert renewed.ok and renewed.renewal, renewed.describe() + chain.log("connector")[-2000:]
    new = renewed.load_certificate()
    assert new.serial_number != old.serial_number
    assert new.subject == old.subject
    state = wait_for("the renewal's report", lambda: chain.issued_state(WINDOWS_DEVICE, new))
    assert state["certificateThumbprint"].upper() == thumbprint(new)


def test_a_renewal_signed_by_a_certificate_intune_never_saw_is_refused(chain: Chain) -> None:
    """A PKCSReq without a challenge, signed by a certificate from the enterprise CA that did
    not come through Intune (here: one NDES issued earlier in the general SCEP workflow would
    do; the policy module's own client certificate serves)."""
    found = chain.challenge()
    spec = replace(request_spec(found), challenge_password=None)
    signer = chain.pki.cert(LabCert.NDES_POLICY_MODULE)
    signer_key = chain.pki.key(LabCert.NDES_POLICY_MODULE)
    before = chain.ca_request_count()

    async def run() -> driver.Exchange:
        async with httpx.AsyncClient(timeout=60) as client:
            ca = await driver.fetch_ca_info(client, chain.state.scep_url)
            return await driver.request(
                client, chain.state.scep_url, ca, device_key(), spec,
                renew_with=(signer, signer_key),  # type: ignore[arg-type]
            )  # fmt: skip

    refused = asyncio.run(run())

    assert_refused(refused, E_INVALIDARG)
    assert chain.ca_request_count() == before
    assert "SigningCertThumbprintMismatch" in chain.log("connector")


# what each attack changes in an honest request, and the Intune code the cloud answers
ATTACKS = {
    "another identity": ({"subject": f"CN={IPHONE}"}, "SubjectNameMismatch"),
    "another EKU": ({"ekus": ("1.3.6.1.5.5.7.3.2", SERVER_AUTH)}, "EnhancedKeyUsageMismatch"),
    "a smaller key": ({"bits": 1024}, "KeyLengthMismatch"),
    "another device's challenge": ({"device": PIXEL}, "SubjectNameMismatch"),
    "a tampered challenge": ({"tamper": True}, None),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacks_are_refused_and_nothing_is_issued(chain: Chain, attack: str) -> None:
    change, code = ATTACKS[attack]
    honest = chain.challenge()
    found = chain.challenge(PIXEL, PIXEL_PROFILE) if "device" in change else honest
    challenge = found["challenge"]
    if change.get("tamper"):
        middle = len(challenge) // 2
        challenge = (
            challenge[:middle]
            + ("A" if challenge[middle] != "A" else "B")
            + challenge[middle + 1 :]
        )
    spec = request_spec(
        honest,
        subject=change.get("subject"),
        ekus=change.get("ekus"),
        challenge=challenge,
    )
    before = chain.ca_request_count()

    exchange = pkcs_req(chain, device_key(change.get("bits", 2048)), spec)

    assert_refused(exchange, E_INVALIDARG)
    assert chain.ca_request_count() == before  # NDES never asked the CA
    refusal = next(
        line
        for line in chain.log("connector").splitlines()
        if "4005 ScepVerifyFailure" in line and exchange.transaction_id in line
    )
    if code is not None:
        assert code in refusal
    else:  # the challenge does not open: its signature or encryption is broken
        assert any(
            name in refusal
            for name in ("SignatureValidationFailed", "ChallengeDecryptionError",
                         "ChallengeDeserializationError", "ChallengeDecodingError")
        ), refusal  # fmt: skip
    if "device" in change:  # the report shows the failed validation for the challenge's device
        states = chain.certificate_states(PIXEL)
        assert any(s["certificateIssuanceState"] == "challengeValidationFailed" for s in states)


def test_a_replayed_challenge_is_refused(chain: Chain) -> None:
    found = chain.challenge()
    first = pkcs_req(chain, device_key(), request_spec(found))
    assert first.result.status is scep.PkiStatus.SUCCESS
    before = chain.ca_request_count()

    again = pkcs_req(chain, device_key(), request_spec(found))

    assert_refused(again, E_INVALIDARG)
    assert chain.ca_request_count() == before


def test_the_cloud_down_during_notification(chain: Chain) -> None:
    """Notifications refused, then the cloud killed and started again: the device has its
    certificate at once; the report arrives after the cloud returns, once."""
    chain.set_fault("notification")  # validation works, notifications answer 503
    cert = enrol(chain)
    wait_for("a failed attempt", lambda: "4009 ScepNotifyAttemptFailed" in chain.log("connector"))
    chain.kill("cloud")
    attempts = chain.log("connector").count("4009 ScepNotifyAttemptFailed")
    wait_for(  # the connector keeps trying against a cloud that is not there
        "attempts against the stopped cloud",
        lambda: chain.log("connector").count("4009 ScepNotifyAttemptFailed") > attempts,
    )
    chain.start_cloud()  # a new process: no fault armed

    state = wait_for("the report", lambda: chain.issued_state(WINDOWS_DEVICE, cert))
    assert state["certificateThumbprint"].upper() == thumbprint(cert)
    serial = f"{cert.serial_number:x}"
    rows = [
        s for s in chain.certificate_states(WINDOWS_DEVICE)
        if (s.get("certificateSerialNumber") or "").lower() == serial
    ]  # fmt: skip
    assert len(rows) == 1


def _outbox(chain: Chain) -> dict[str, bool]:
    """Transaction ID → delivered, for every report in the connector's outbox, read from its
    SQLite file as an operator would."""
    db = chain.data / "connector" / "connector.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT transaction_id, delivered_at FROM outbox_reports").fetchall()
    return {str(tx): delivered is not None for tx, delivered in rows}


def test_a_connector_killed_with_reports_queued_loses_none(chain: Chain) -> None:
    chain.set_fault("notification")
    exchanges = []
    for _ in range(3):
        found = chain.challenge()
        exchanges.append(pkcs_req(chain, device_key(found["keySize"]), request_spec(found)))
    chain.kill("connector")  # SIGKILL, with the three reports in its outbox
    queued = _outbox(chain)
    assert all(queued[e.transaction_id] is False for e in exchanges)
    chain.clear_faults()

    chain.start_connector()

    for exchange in exchanges:
        cert = exchange.certificate
        state = wait_for("every report", lambda cert=cert: chain.issued_state(WINDOWS_DEVICE, cert))
        assert state["certificateThumbprint"].upper() == thumbprint(cert)
    serials = [
        (s.get("certificateSerialNumber") or "").lower()
        for s in chain.certificate_states(WINDOWS_DEVICE)
    ]
    for exchange in exchanges:
        assert serials.count(f"{exchange.certificate.serial_number:x}") == 1
    delivered = _outbox(chain)
    assert all(delivered[e.transaction_id] for e in exchanges)


def test_retiring_a_device_revokes_its_certificate(chain: Chain) -> None:
    cert = enrol(chain, PIXEL, PIXEL_PROFILE)
    wait_for("the report", lambda: chain.issued_state(PIXEL, cert))
    with chain.admin() as client:
        device_id = client.get(
            "/beta/deviceManagement/managedDevices", params={"$filter": f"deviceName eq '{PIXEL}'"}
        ).json()["value"][0]["id"]
        assert (
            client.post(f"/beta/deviceManagement/managedDevices/{device_id}/retire").status_code
            == 204
        )

    wait_for("the CRL", lambda: cert.serial_number in chain.crl_serials())
    state = wait_for(
        "the cloud's revoke status",
        lambda: (
            (s := chain.issued_state(PIXEL, cert))
            and s["certificateRevokeStatus"] == "revoked"
            and s
        ),
    )
    assert state["certificateIssuanceState"] == "revoked"
    assert "3050 RevokeSuccess" in chain.log("connector")


def test_the_cloud_down_during_validation_fails_the_request_and_issues_nothing(
    chain: Chain,
) -> None:
    found = chain.challenge()
    chain.set_fault("validation")
    before = chain.ca_request_count()

    refused = pkcs_req(chain, device_key(), request_spec(found))

    assert_refused(refused, RPC_S_SERVER_UNAVAILABLE)
    assert chain.ca_request_count() == before
    chain.clear_faults()
    retried = pkcs_req(chain, device_key(), request_spec(found))  # the same challenge, later
    assert retried.result.status is scep.PkiStatus.SUCCESS


def test_the_connector_down_fails_the_request_and_issues_nothing(chain: Chain) -> None:
    chain.kill("connector")
    try:
        found = chain.challenge()
        before = chain.ca_request_count()

        refused = pkcs_req(chain, device_key(), request_spec(found))

        assert_refused(refused, RPC_S_SERVER_UNAVAILABLE)
        assert chain.ca_request_count() == before
    finally:
        chain.start_connector()


def test_a_deleted_connector_is_refused_and_devices_get_a_failure(chain: Chain) -> None:
    with chain.admin() as client:
        connectors = client.get("/beta/deviceManagement/ndesConnectors").json()["value"]
        for connector in connectors:
            deleted = client.delete(f"/beta/deviceManagement/ndesConnectors/{connector['id']}")
            assert deleted.status_code == 204
    found = chain.challenge()
    before = chain.ca_request_count()

    exchange = pkcs_req(chain, device_key(), request_spec(found))

    assert_refused(exchange, RPC_S_SERVER_UNAVAILABLE)
    assert chain.ca_request_count() == before
