"""The agents' own rules, with the cloud faked by httpx.MockTransport and the CA by a fake
`CaRevoker`: when an identity is due for renewal, that a loop survives its step's errors, and
the revocation pass's edge cases (a revoker that raises, a stop mid-pass, an upload the cloud
refuses outright)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest
from cryptography import x509

from connector.cloud import CloudClient
from connector.periodic import repeat
from connector.renewal import renewal_due
from connector.revocation import RevocationAgent, RevokeVerdict
from shared.api.intune import RevocationErrorCode
from shared.clock import FixedClock
from shared.pki import CertProfile, KeySpec, generate_key, issue_certificate

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def certificate(days: int) -> x509.Certificate:
    key = generate_key(KeySpec.ec())
    return issue_certificate(
        subject=x509.Name.from_rfc4514_string("CN=connector"),
        public_key=key.public_key(),
        issuer_cert=None,
        issuer_key=key,
        serial=1,
        not_before=T0,
        profile=CertProfile(validity=days * DAY),
    )


@pytest.mark.parametrize(
    ("lifetime", "elapsed", "before", "due"),
    [
        (365, 200, 30, False),  # 165 days left; a third of the lifetime is 121.7 days
        (365, 243, 30, False),  # 122 left
        (365, 244, 30, True),  # 121 left: under a third, though far more than 30 days
        (365, 336, 30, True),  # 29 left: under both
        (60, 29, 30, False),  # 31 left; a third is 20 days
        (60, 31, 30, True),  # 29 left: under 30 days first, not yet under a third
        (60, 39, 0, False),  # no days threshold: 21 left
        (60, 41, 0, True),  # 19 left: under a third
    ],
)
def test_renewal_is_due_under_the_days_or_under_a_third(
    lifetime: int, elapsed: int, before: int, due: bool
) -> None:
    cert = certificate(lifetime)
    now = T0 + elapsed * DAY
    assert renewal_due(cert, now, before * DAY) is due


async def test_a_loop_survives_its_steps_errors(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the first step breaks")
        if calls == 3:
            stop.set()

    await asyncio.wait_for(repeat(step, stop, 0.01, name="test loop"), timeout=5)
    assert calls == 3
    assert "test loop failed; retrying" in caplog.text


class FakeCloud:
    """The cloud's revocation queue: `requests` to hand out, `uploads` received; answers the
    upload with `upload_status`."""

    def __init__(self, serials: list[str]) -> None:
        self.requests = [
            {"requestContext": f"ctx-{i}", "serialNumber": s} for i, s in enumerate(serials)
        ]
        self.uploads: list[list[dict[str, object]]] = []
        self.upload_status = 200

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/download"):
            page, self.requests = self.requests, []
            return httpx.Response(200, json={"value": page})
        if self.upload_status != 200:
            return httpx.Response(self.upload_status, json={"detail": "bad errorCode"})
        self.uploads.append(json.loads(request.content)["results"])
        return httpx.Response(200, json={"value": True})

    def client(self) -> CloudClient:
        http = httpx.AsyncClient(
            transport=httpx.MockTransport(self.handler), base_url="https://cloud.test"
        )
        return CloudClient(http, caller_info="test")


class FakeCa:
    def __init__(self, verdicts: dict[str, RevokeVerdict | Exception]) -> None:
        self.verdicts = verdicts
        self.asked: list[str] = []
        self.on_revoke: asyncio.Event | None = None

    async def revoke(self, serial_hex: str) -> RevokeVerdict:
        self.asked.append(serial_hex)
        if self.on_revoke is not None:
            self.on_revoke.set()
        verdict = self.verdicts[serial_hex]
        if isinstance(verdict, Exception):
            raise verdict
        return verdict


REVOKED = RevokeVerdict(RevocationErrorCode.NONE, "revoked")


async def test_a_revoker_that_raises_sends_the_request_back_to_the_queue() -> None:
    cloud = FakeCloud(["0a", "0b"])
    ca = FakeCa({"0a": TypeError("a bug"), "0b": REVOKED})
    agent = RevocationAgent(cloud.client(), ca, FixedClock(T0))
    done = await agent.run_once()
    assert [(r.succeeded, r.error_code) for r in done.results] == [
        (False, "RetryableServiceException"),
        (False, "RetryableServiceException"),  # and the CA is not asked again this pass
    ]
    assert ca.asked == ["0a"]
    assert cloud.uploads == [[r.model_dump(mode="json", by_alias=True) for r in done.results]]


async def test_a_stop_mid_pass_hands_the_rest_back_untried() -> None:
    cloud = FakeCloud(["0a", "0b", "0c"])
    ca = FakeCa({"0a": REVOKED, "0b": REVOKED, "0c": REVOKED})
    stop = asyncio.Event()
    ca.on_revoke = stop  # the connector is told to stop during the first revocation
    agent = RevocationAgent(cloud.client(), ca, FixedClock(T0))
    await asyncio.wait_for(agent.run_forever(stop, 60), timeout=5)
    assert ca.asked == ["0a"]
    [upload] = cloud.uploads
    assert [(r["requestContext"], r["errorCode"]) for r in upload] == [
        ("ctx-0", "None"),
        ("ctx-1", "ServiceUnavailableException"),
        ("ctx-2", "ServiceUnavailableException"),
    ]


async def test_results_the_cloud_refuses_outright_are_dropped_not_resent_forever() -> None:
    cloud = FakeCloud(["0a"])
    cloud.upload_status = 400
    agent = RevocationAgent(cloud.client(), FakeCa({"0a": REVOKED}), FixedClock(T0))
    first = await agent.run_once()
    assert (first.downloaded, first.uploaded, first.kept) == (1, 0, 0)
    assert agent.last_error is not None and "refused" in agent.last_error.message
    cloud.upload_status = 200
    second = await agent.run_once()
    assert (second.downloaded, second.uploaded) == (0, 0) and cloud.uploads == []


def test_batch_is_checked() -> None:
    with pytest.raises(ValueError, match="batch"):
        RevocationAgent(FakeCloud([]).client(), FakeCa({}), FixedClock(T0), batch=501)
