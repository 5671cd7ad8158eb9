"""Manager approval: a request waits PENDING until a certificate manager approves (the
certificate is issued at that moment) or denies it."""

from __future__ import annotations

import datetime as dt

import httpx
from cryptography import x509

from ca_sim.hresult import Hresult
from shared.api.ca import Disposition
from shared.clock import FixedClock
from shared.pki import PrivateKey

from .support import ADMIN, all_requests, certificate_of, countersign, csr_der, submit

SKEW = dt.timedelta(minutes=10)


async def pending_request(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], key: PrivateKey
) -> int:
    request = countersign(csr_der(key, "CN=approve-me,O=Lab"), *agent)
    response = await submit(client, request, "IntuneManagerApproval", transaction_id="tx-p")
    reply = response.json()
    assert reply["disposition"] == Disposition.PENDING
    assert reply["hresult"] == 0
    assert reply["dispositionMessage"] == "Taken Under Submission"
    assert reply["certificate"] is None
    request_id = reply["requestId"]
    assert isinstance(request_id, int)
    return request_id


async def test_pending_then_approved_is_issued_at_approval_time(
    client: httpx.AsyncClient,
    clock: FixedClock,
    agent: tuple[x509.Certificate, PrivateKey],
    device_key: PrivateKey,
) -> None:
    request_id = await pending_request(client, agent, device_key)
    still = (await client.get(f"/ca/requests/{request_id}")).json()
    assert still["disposition"] == Disposition.PENDING
    assert [r["requestId"] for r in await all_requests(client, disposition="pending")] == [
        request_id
    ]

    approved_at = clock.advance(dt.timedelta(hours=3))
    approve = await client.post(f"/ca/requests/{request_id}/approve", headers=ADMIN)

    assert approve.status_code == 200
    reply = approve.json()
    assert reply["disposition"] == Disposition.ISSUED
    assert reply["hresult"] == 0
    cert = certificate_of(reply)
    assert cert.subject.rfc4514_string() == "CN=approve-me,O=Lab"
    assert cert.not_valid_before_utc == approved_at - SKEW
    assert (await client.get(f"/ca/requests/{request_id}")).json() == reply
    [row] = await all_requests(client, template="IntuneManagerApproval")
    assert row["transactionId"] == "tx-p"
    assert row["resolvedAt"] is not None

    again = await client.post(f"/ca/requests/{request_id}/approve", headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["hresult"] == Hresult.CERTSRV_E_BAD_REQUESTSTATUS


async def test_pending_then_denied(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    request_id = await pending_request(client, agent, device_key)

    deny = await client.post(f"/ca/requests/{request_id}/deny", headers=ADMIN)

    reply = deny.json()
    assert reply["disposition"] == Disposition.DENIED
    assert reply["hresult"] == Hresult.CERTSRV_E_ADMIN_DENIED_REQUEST
    assert "LAB\\NDESService" in reply["dispositionMessage"]
    assert (await client.get(f"/ca/requests/{request_id}")).json() == reply
    for action in ("approve", "deny"):
        late = await client.post(f"/ca/requests/{request_id}/{action}", headers=ADMIN)
        assert late.status_code == 409
        assert "DENIED" in late.json()["detail"]


async def test_only_pending_requests_can_be_approved(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    issued = await submit(client, countersign(csr_der(device_key), *agent))
    request_id = issued.json()["requestId"]

    response = await client.post(f"/ca/requests/{request_id}/approve", headers=ADMIN)

    assert response.status_code == 409
    assert response.json()["hresult"] == Hresult.CERTSRV_E_BAD_REQUESTSTATUS
