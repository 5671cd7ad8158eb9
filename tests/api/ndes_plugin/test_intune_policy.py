"""NDES with Intune's policy module, the Certificate Connector faked with httpx.MockTransport."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ndes_plugin.app import build_intune_policy, build_policy
from ndes_plugin.errors import ChallengeNotSupported, PolicyError
from ndes_plugin.hresult import HResult
from ndes_plugin.intune_policy import IntuneConnectorPolicy
from ndes_plugin.policy import X509SCEPDisposition
from ndes_plugin.settings import NdesSettings
from shared.api.connector import NOTIFY_PATH, VERIFY_PATH, NotifyRequest, VerifyRequest
from shared.clock import FixedClock
from shared.scep import FailInfo, PkiStatus
from tests.api.ndes_plugin.conftest import MSCEP, Ndes, StartNdes
from tests.api.ndes_plugin.helpers import hresult

CONNECTOR = "https://connector.test:8091"
CHALLENGE = "signed-intune-challenge"
CHALLENGE_FAILED = 0x80094001


@dataclass
class FakeConnector:
    """The connector's local API: answers VerifyRequest per `verdict`, records every call."""

    verdict: str = "verified"  # verified | refused | refused-no-hresult | down | timeout | 503
    notify_answer: str = "queued"  # queued | 500 | down
    verify_calls: list[VerifyRequest] = field(default_factory=list)
    notify_calls: list[NotifyRequest] = field(default_factory=list)
    raw_bodies: list[dict[str, Any]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.raw_bodies.append(body)
        if request.url.path == VERIFY_PATH:
            self.verify_calls.append(VerifyRequest.model_validate(body))
            return self._verify(request)
        if request.url.path == NOTIFY_PATH:
            self.notify_calls.append(NotifyRequest.model_validate(body))
            if self.notify_answer == "down":
                raise httpx.ConnectError("connection refused", request=request)
            if self.notify_answer == "500":
                return httpx.Response(500, text="outbox full")
            return httpx.Response(200, json={"queued": True})
        return httpx.Response(404)

    def _verify(self, request: httpx.Request) -> httpx.Response:
        if self.verdict == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.verdict == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.verdict == "503":
            return httpx.Response(503, text="unavailable")
        if self.verdict == "verified":
            return httpx.Response(200, json={"verified": True, "code": "Success"})
        answer = {"verified": False, "code": "ChallengeDeserializationError"}
        if self.verdict == "refused":
            return httpx.Response(200, json={**answer, "hresult": CHALLENGE_FAILED})
        return httpx.Response(200, json=answer)


def intune_module(connector: FakeConnector) -> IntuneConnectorPolicy:
    settings = NdesSettings(policy="intune", intune_connector_url=CONNECTOR)
    return build_intune_policy(settings, connector.transport())


@pytest.fixture
def connector() -> FakeConnector:
    return FakeConnector()


@pytest.fixture
async def intune(start_ndes: StartNdes, connector: FakeConnector) -> AsyncIterator[Ndes]:
    module = intune_module(connector)
    async with start_ndes(policy="intune", policy_module=module) as running:
        yield running


async def enrol(ndes: Ndes, cn: str = "intune-device") -> tuple[Any, bytes, str]:
    device = ndes.device(0, cn)
    csr = device.csr(cn, challenge=CHALLENGE)
    sent = ndes.request(device, csr)
    return await ndes.send(sent), csr, sent.transaction_id


async def test_verified_request_is_issued_and_notified(
    intune: Ndes, connector: FakeConnector
) -> None:
    result, csr, tid = await enrol(intune)
    assert result.status is PkiStatus.SUCCESS
    issued = result.certificates[0]
    (verify,) = connector.verify_calls
    assert verify.transaction_id == tid
    assert base64.b64decode(verify.certificate_request) == csr
    assert verify.signer_certificate is None
    assert verify.template == "IPSECIntermediateOffline"
    assert set(connector.raw_bodies[0]) == {
        "transactionId",
        "certificateRequest",
        "signerCertificate",
        "template",
    }
    (submission,) = intune.ca.device_submissions
    assert submission.transaction_id == tid
    (notify,) = connector.notify_calls
    assert notify.transaction_id == tid
    assert notify.disposition == 0
    assert notify.hresult == 0
    assert base64.b64decode(notify.certificate_request) == csr
    assert notify.issued_certificate is not None
    assert base64.b64decode(notify.issued_certificate) == issued.public_bytes(Encoding.DER)
    assert "issuedCertificate" in connector.raw_bodies[1]


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [("refused", CHALLENGE_FAILED), ("refused-no-hresult", HResult.ERROR_NOT_FOUND)],
)
async def test_refused_request_gets_signed_failure_and_reaches_no_ca(
    start_ndes: StartNdes, connector: FakeConnector, verdict: str, expected: int
) -> None:
    connector.verdict = verdict
    module = intune_module(connector)
    async with start_ndes(policy="intune", policy_module=module) as ndes:
        result, _, _ = await enrol(ndes)
        assert result.status is PkiStatus.FAILURE
        assert result.fail_info is FailInfo.BAD_REQUEST
        assert hresult(result) == expected
        assert ndes.ca.device_submissions == [], "a refused request reached the CA"
        assert len(connector.verify_calls) == 1
        assert connector.notify_calls == []
        assert module.remembered == 0


@pytest.mark.parametrize("verdict", ["down", "timeout", "503"])
async def test_connector_unavailable_gets_signed_failure_not_http_500(
    start_ndes: StartNdes, connector: FakeConnector, verdict: str
) -> None:
    connector.verdict = verdict
    module = intune_module(connector)
    async with start_ndes(policy="intune", policy_module=module) as ndes:
        result, _, _ = await enrol(ndes)  # `send` asserts HTTP 200 and a pki-message
        assert result.status is PkiStatus.FAILURE
        assert result.fail_info is FailInfo.BAD_REQUEST
        assert hresult(result) == HResult.RPC_S_SERVER_UNAVAILABLE
        assert ndes.ca.device_submissions == []
        assert connector.notify_calls == []


@pytest.mark.parametrize("answer", ["500", "down"])
async def test_notify_failure_does_not_affect_success(
    start_ndes: StartNdes,
    connector: FakeConnector,
    answer: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector.notify_answer = answer
    module = intune_module(connector)
    async with start_ndes(policy="intune", policy_module=module) as ndes:
        with caplog.at_level(logging.INFO, logger="ndes_plugin.intune_policy"):
            result, _, _ = await enrol(ndes)
        assert result.status is PkiStatus.SUCCESS
        assert len(ndes.ca.device_submissions) == 1
        assert len(connector.notify_calls) == 1
        assert module.remembered == 0
    messages = [r.getMessage() for r in caplog.records]
    assert any("Calling Notifyrequest (SUCCESS" in m for m in messages)
    assert any("Calling Notifyrequest failed" in m for m in messages)


async def test_bare_get_is_403_and_no_admin_passwords(intune: Ndes) -> None:
    assert intune.settings.intune_module_installed
    response = await intune.client.get(MSCEP)
    assert response.status_code == 403
    health = (await intune.client.get("/health")).json()
    assert health["policy"] == "intune"
    assert health["intuneModuleInstalled"] is True


async def test_settings_build_the_intune_module(
    connector: FakeConnector, clock: FixedClock, tmp_path: Path
) -> None:
    settings = NdesSettings(policy="intune", intune_connector_url=CONNECTOR + "/")
    assert settings.intune_module_installed
    assert settings.intune_connector_url == CONNECTOR
    module = build_policy(settings, clock, connector.transport())
    assert isinstance(module, IntuneConnectorPolicy)
    with pytest.raises(ChallengeNotSupported):
        module.generate_challenge("IPSECIntermediateOffline", "")
    # without an injected transport, the TLS files are required and checked at start-up
    with pytest.raises(PolicyError, match="NDES_INTUNE_CLIENT_CERT_PATH"):
        build_policy(settings, clock)
    missing = tmp_path / "missing.pem"
    with_files = NdesSettings(
        policy="intune",
        intune_connector_ca_path=missing,
        intune_client_cert_path=missing,
        intune_client_key_path=missing,
    )
    module = build_policy(with_files, clock)
    with pytest.raises(PolicyError, match="is not a readable file"):
        await module.initialize()


async def test_notify_keeps_the_csr_while_pending(connector: FakeConnector) -> None:
    module = intune_module(connector)
    await module.initialize()
    try:
        assert await module.verify_request(b"csr", None, "T", "tid-1")
        await module.notify(None, "tid-1", X509SCEPDisposition.PENDING, 0, None)
        assert module.remembered == 1
        await module.notify(None, "tid-1", X509SCEPDisposition.FAILURE, 0x80094012, None)
        assert module.remembered == 0
        await module.notify(None, "tid-1", X509SCEPDisposition.SUCCESS, 0, None)  # unknown: skip
    finally:
        await module.uninitialize()
    dispositions = [(n.disposition, n.hresult) for n in connector.notify_calls]
    assert dispositions == [(3, 0), (2, 0x80094012)]
    assert all(base64.b64decode(n.certificate_request) == b"csr" for n in connector.notify_calls)
