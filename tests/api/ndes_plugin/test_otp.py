"""The legacy workflow: NDES's one-time passwords from /certsrv/mscep_admin/, and their weakness."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from shared.scep import FailInfo, PkiStatus
from shared.scep.message import parse_message
from tests.api.ndes_plugin.conftest import Ndes, StartNdes
from tests.api.ndes_plugin.helpers import hresult, password_from

SMART_CARD_LOGON = "1.3.6.1.4.1.311.20.2.2"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"


async def test_admin_page_needs_the_admin_credentials(ndes: Ndes) -> None:
    for auth in (None, ("ndes-admin", "wrong"), ("someone", "admin-secret")):
        response = await ndes.admin_page(auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
        assert password_from(response.content) is None
    response = await ndes.client.get("/certsrv/mscep_admin/", headers={"authorization": "Basic !!"})
    assert response.status_code == 401


async def test_admin_page_is_utf16_with_md5_thumbprint_and_a_new_password_each_time(
    ndes: Ndes,
) -> None:
    response = await ndes.admin_page()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert response.content.startswith(b"\xff\xfe<\x00H\x00")  # UTF-16LE, with a BOM
    page = response.content.decode("utf-16")
    assert 'charset=UTF-8">' in page  # the page's own claim, which is false
    md5 = ndes.ca_certs[2].fingerprint(hashes.MD5()).hex().upper()
    assert f"<B> {md5[:8]} {md5[8:16]} {md5[16:24]} {md5[24:]} </B>" in page
    assert "This password can be used only once and will expire within 60 minutes." in page
    first = password_from(response.content)
    assert first is not None and re.fullmatch(r"[0-9A-F]{16}", first)
    second = await ndes.password()
    assert second != first
    # any case of the path, and jscep's spelling of it
    other = await ndes.client.get("/CertSrv/MSCEP_ADMIN", auth=("ndes-admin", "admin-secret"))
    assert password_from(other.content) is not None
    other = await ndes.client.get(
        "/certsrv/mscep_admin/mscep.dll", auth=("ndes-admin", "admin-secret")
    )
    assert password_from(other.content) is not None


async def test_enrol_with_a_password_by_get(ndes: Ndes) -> None:
    device = ndes.device(0, "printer-01")
    password = await ndes.password()
    sent = ndes.request(device, device.csr("printer-01", challenge=password))
    result = await ndes.send(sent, via="GET")
    assert result.status is PkiStatus.SUCCESS
    issued, *chain = result.certificates
    assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "printer-01"
    assert issued.public_key() == device.key.public_key()
    assert chain == ndes.ca_certs[2:]
    # signed by the RA signing certificate, which also countersigned the submission to the CA
    response = await ndes.post(sent.der)
    assert parse_message(response.content, extra_certs=ndes.ca_certs).signer == ndes.ra_sign
    (submission,) = ndes.ca.device_submissions
    assert submission.agent == ndes.ra_sign
    assert submission.template == "IPSECIntermediateOffline"
    assert submission.transaction_id == sent.transaction_id


async def test_a_password_works_once(ndes: Ndes) -> None:
    password = await ndes.password()
    first = ndes.device(0, "a")
    assert (await ndes.enrol(first, first.csr("a", challenge=password))).status is PkiStatus.SUCCESS
    second = ndes.device(1, "b")
    result = await ndes.enrol(second, second.csr("b", challenge=password))
    assert result.status is PkiStatus.FAILURE
    assert result.fail_info is FailInfo.BAD_MESSAGE_CHECK
    assert hresult(result) == 0x800B0110
    assert len(ndes.ca.device_submissions) == 1


async def test_a_password_expires_after_60_minutes(ndes: Ndes) -> None:
    device = ndes.device(0, "late")
    stale, fresh = await ndes.password(), await ndes.password()
    ndes.clock.advance(dt.timedelta(minutes=59))
    assert (
        await ndes.enrol(device, device.csr("late", challenge=fresh))
    ).status is PkiStatus.SUCCESS
    ndes.clock.advance(dt.timedelta(minutes=2))
    result = await ndes.enrol(device, device.csr("late", challenge=stale))
    assert (result.status, result.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_MESSAGE_CHECK)
    assert hresult(result) == 0x80070490
    assert len(ndes.ca.device_submissions) == 1


async def test_password_cache_full_after_five_unused(ndes: Ndes) -> None:
    passwords = [await ndes.password() for _ in range(5)]
    response = await ndes.admin_page()
    assert response.status_code == 200
    page = response.content.decode("utf-16")
    assert "The password cache is full." in page
    assert "cache more than 5 passwords" in page
    assert password_from(response.content) is None
    # using one frees a place; so does waiting for them to expire
    device = ndes.device(0, "x")
    assert (
        await ndes.enrol(device, device.csr("x", challenge=passwords[0]))
    ).status is PkiStatus.SUCCESS
    await ndes.password()
    assert password_from((await ndes.admin_page()).content) is None
    ndes.clock.advance(dt.timedelta(minutes=61))
    assert len({await ndes.password() for _ in range(5)}) == 5


async def test_no_challenge_is_refused(ndes: Ndes) -> None:
    device = ndes.device(0, "nopass")
    result = await ndes.enrol(device, device.csr("nopass"))
    assert (result.status, result.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_MESSAGE_CHECK)
    assert hresult(result) == 0x80096004
    assert ndes.ca.device_submissions == []


async def test_weakness_one_password_buys_any_subject_and_usage(ndes: Ndes) -> None:
    """The administrator fetched this password for a printer; whoever holds it chooses what the
    certificate says. Only the password is checked: this SUCCEEDS, and that is the point."""
    password = await ndes.password()
    attacker = ndes.device(1, "attacker")
    csr = attacker.csr(
        "Administrator",
        o="Contoso Domain Admins",
        challenge=password,
        ekus=(SMART_CARD_LOGON, CLIENT_AUTH),
    )
    result = await ndes.enrol(attacker, csr)
    assert result.status is PkiStatus.SUCCESS
    issued = result.certificates[0]
    assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Administrator"
    ekus = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.ObjectIdentifier(SMART_CARD_LOGON) in ekus


async def test_two_requests_racing_for_one_password_one_wins(ndes: Ndes) -> None:
    password = await ndes.password()
    ndes.ca.delay = 0.05  # both requests are in flight while the CA works on the first
    devices = [ndes.device(i, f"race-{i}") for i in range(2)]
    csrs = [d.csr(f"race-{i}", challenge=password) for i, d in enumerate(devices)]
    results = await asyncio.gather(*(ndes.enrol(d, c) for d, c in zip(devices, csrs, strict=True)))
    assert sorted(r.status for r in results) == [PkiStatus.SUCCESS, PkiStatus.FAILURE]
    loser = next(r for r in results if r.status is PkiStatus.FAILURE)
    assert hresult(loser) == 0x800B0110
    assert len(ndes.ca.device_submissions) == 1


async def test_restart_forgets_the_passwords(start_ndes: StartNdes) -> None:
    async with start_ndes() as ndes:
        password = await ndes.password()
    async with start_ndes() as ndes:
        device = ndes.device(0, "after-restart")
        result = await ndes.enrol(device, device.csr("after-restart", challenge=password))
        assert hresult(result) == 0x80070490


async def test_no_password_policy(start_ndes: StartNdes) -> None:
    async with start_ndes(policy="none") as ndes:
        page = (await ndes.admin_page()).content.decode("utf-16")
        assert "No enrollment challenge password is required" in page
        assert "The enrollment challenge password is" not in page
        device = ndes.device(0, "open")
        assert (await ndes.enrol(device, device.csr("open"))).status is PkiStatus.SUCCESS


async def test_the_password_is_never_logged(ndes: Ndes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = await ndes.password()
    device = ndes.device(0, "quiet")
    await ndes.enrol(device, device.csr("quiet", challenge=password))
    await ndes.enrol(device, device.csr("quiet", challenge=password))
    assert caplog.text  # something was logged
    assert password not in caplog.text
    assert "[tid=" in caplog.text  # and the transaction ID is there
