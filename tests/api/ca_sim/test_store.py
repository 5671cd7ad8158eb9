"""The CA database itself, on SQLite and (with TEST_POSTGRES_URL) on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from ca_sim.crl import CrlInfo
from ca_sim.errors import SerialTaken
from ca_sim.hresult import Hresult
from ca_sim.records import NewCertificate, NewRequest, RequestQuery, RequestRecord
from ca_sim.store import SqlCaStore, create_engine, create_tables
from shared.api.ca import Disposition, RevocationReason

WHEN = dt.datetime(2025, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)


@pytest.fixture
async def store(any_database_url: str) -> AsyncIterator[SqlCaStore]:
    engine = create_engine(any_database_url)
    await create_tables(engine)
    try:
        yield SqlCaStore(engine)
    finally:
        await engine.dispose()


def new_request(
    requester: str = "LAB\\NDESService",
    template: str = "IntuneDeviceCert",
    disposition: Disposition = Disposition.ISSUED,
    hresult: int = 0,
) -> NewRequest:
    return NewRequest(
        submitted_at=WHEN,
        requester=requester,
        template=template,
        transaction_id="tx",
        subject="CN=device",
        disposition=disposition,
        hresult=hresult,
        message="m",
        csr_der=b"\x30\x00",
    )


def new_certificate(serial: str) -> NewCertificate:
    return NewCertificate(
        serial=serial,
        subject="CN=device",
        not_before=WHEN,
        not_after=WHEN + dt.timedelta(days=365),
        der=b"\x30\x00",
    )


async def test_values_round_trip(store: SqlCaStore) -> None:
    code = Hresult.CERTSRV_E_KEY_LENGTH  # above 2^31: needs a BIGINT on PostgreSQL
    record = await store.add_request(new_request(disposition=Disposition.DENIED, hresult=code))

    again = await store.get_request(record.id)

    assert again == record
    assert again is not None
    assert again.hresult == 0x80094811
    assert again.submitted_at == WHEN
    assert again.submitted_at.tzinfo is not None
    assert again.resolved_at == WHEN
    assert again.disposition is Disposition.DENIED


async def test_a_duplicate_serial_is_refused_and_leaves_nothing_behind(store: SqlCaStore) -> None:
    await store.add_issued(new_request(), new_certificate("7f01"))

    with pytest.raises(SerialTaken):
        await store.add_issued(new_request(requester="other"), new_certificate("7f01"))

    assert [r.requester for r in await store.list_requests(RequestQuery())] == ["LAB\\NDESService"]


async def test_revocation_is_compare_and_set(store: SqlCaStore) -> None:
    record, _ = await store.add_issued(new_request(), new_certificate("7f02"))
    hold, compromise = RevocationReason.CERTIFICATE_HOLD, RevocationReason.KEY_COMPROMISE

    assert await store.set_revocation("7f02", expected=None, reason=hold, at=WHEN, message="h")
    assert not await store.set_revocation("7f02", expected=None, reason=hold, at=WHEN, message="x")
    revoked = await store.get_request(record.id)
    assert revoked is not None
    assert revoked.disposition is Disposition.REVOKED
    assert await store.set_revocation(
        "7f02", expected=hold, reason=compromise, at=WHEN, message="k"
    )
    cert = await store.get_certificate("7f02")
    assert cert is not None
    assert (cert.reason, cert.revoked_at) == (compromise, WHEN)
    assert [c.serial for c in await store.revoked_certificates(WHEN)] == ["7f02"]
    assert await store.revoked_certificates(WHEN + dt.timedelta(days=366)) == []
    assert not await store.set_revocation("nope", expected=None, reason=hold, at=WHEN, message="")


async def test_crls_are_replaced_compare_and_set_on_their_number(store: SqlCaStore) -> None:
    first = CrlInfo(1, WHEN, WHEN + dt.timedelta(days=7), b"one")
    second = CrlInfo(2, WHEN, WHEN + dt.timedelta(days=7), b"two")

    assert await store.save_crl("issuing", first, previous=None)
    assert not await store.save_crl("issuing", first, previous=None)
    assert not await store.save_crl("issuing", second, previous=5)
    assert await store.save_crl("issuing", second, previous=1)
    assert await store.get_crl("issuing") == second
    assert await store.get_crl("root") is None


async def test_pending_requests_resolve_once(store: SqlCaStore) -> None:
    record = await store.add_request(new_request(disposition=Disposition.PENDING))
    assert record.resolved_at is None
    later = WHEN + dt.timedelta(hours=1)

    settled = await store.resolve_pending(
        record.id,
        disposition=Disposition.ISSUED,
        hresult=0,
        message="Issued",
        at=later,
        cert=new_certificate("7f03"),
    )
    assert settled is not None
    assert (settled.disposition, settled.resolved_at) == (Disposition.ISSUED, later)
    assert (await store.certificate_for_request(record.id)) is not None
    assert (
        await store.resolve_pending(
            record.id, disposition=Disposition.DENIED, hresult=1, message="x", at=later, cert=None
        )
        is None
    )


async def test_search(store: SqlCaStore) -> None:
    await store.add_request(new_request("LAB\\NDESService", "IntuneDeviceCert"))
    await store.add_request(new_request("CN=NDES Agent_1%", "IntuneUserCert", Disposition.DENIED))
    await store.add_request(new_request("CN=Other", "intunedevicecert", Disposition.PENDING))

    def requesters(rows: list[RequestRecord]) -> list[str]:
        return [r.requester for r in rows]

    assert requesters(await store.list_requests(RequestQuery(requester="ndes"))) == [
        "LAB\\NDESService",
        "CN=NDES Agent_1%",
    ]
    # LIKE wildcards in the search text are matched literally
    assert requesters(await store.list_requests(RequestQuery(requester="_1%"))) == [
        "CN=NDES Agent_1%"
    ]
    assert requesters(await store.list_requests(RequestQuery(requester="t_1"))) == [
        "CN=NDES Agent_1%"
    ]
    devices = await store.list_requests(RequestQuery(template="IntuneDeviceCert"))
    assert requesters(devices) == ["LAB\\NDESService", "CN=Other"]
    pending = await store.list_requests(RequestQuery(disposition=Disposition.PENDING))
    assert requesters(pending) == ["CN=Other"]
    page = await store.list_requests(RequestQuery(limit=1, offset=1))
    assert requesters(page) == ["CN=NDES Agent_1%"]
    assert await store.ping() in ("sqlite", "postgresql")
