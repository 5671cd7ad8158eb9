"""NDES and the CA: template by key usage, CA errors, pending requests, renewals, the policy calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from ndes_plugin.policy import NoPasswordPolicy, X509SCEPDisposition
from shared.pki import KeyUsageName
from shared.scep import FailInfo, IssuerAndSubject, MessageType, PkiStatus
from tests.api.ndes_plugin.conftest import Ndes, StartNdes
from tests.api.ndes_plugin.helpers import Device, build, der, hresult

TEMPLATES = {
    "signature_template": "SigTemplate",
    "encryption_template": "EncTemplate",
    "general_purpose_template": "GpTemplate",
}


@pytest.mark.parametrize(
    ("key_usage", "template"),
    [
        (frozenset({"digital_signature"}), "SigTemplate"),
        (frozenset({"digital_signature", "content_commitment"}), "SigTemplate"),
        (frozenset({"key_encipherment"}), "EncTemplate"),
        (frozenset({"digital_signature", "key_encipherment"}), "GpTemplate"),
        (frozenset({"key_agreement"}), "GpTemplate"),
        (None, "GpTemplate"),  # no keyUsage extension: our documented choice
    ],
)
async def test_template_by_key_usage(
    start_ndes: StartNdes, key_usage: frozenset[KeyUsageName] | None, template: str
) -> None:
    async with start_ndes(policy="none", **TEMPLATES) as ndes:
        device = ndes.device(0, "ku")
        result = await ndes.enrol(device, device.csr("ku", key_usage=key_usage))
        assert result.status is PkiStatus.SUCCESS
        assert [s.template for s in ndes.ca.device_submissions] == [template]


async def test_unknown_template_fails_with_the_ca_hresult_and_keeps_the_password(
    start_ndes: StartNdes,
) -> None:
    async with start_ndes(
        signature_template="SigTemplate", general_purpose_template="NoSuchTemplate"
    ) as ndes:
        password = await ndes.password()
        device = ndes.device(0, "wrong-template")
        result = await ndes.enrol(device, device.csr("wrong-template", challenge=password))
        assert (result.status, result.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
        assert hresult(result) == 0x80094800
        # a refusal by the CA gives the password back (password_consumed_on_failure=False)
        csr = device.csr(
            "wrong-template", challenge=password, key_usage=frozenset({"digital_signature"})
        )
        assert (await ndes.enrol(device, csr)).status is PkiStatus.SUCCESS


async def test_password_consumed_on_failure_when_configured(start_ndes: StartNdes) -> None:
    async with start_ndes(
        general_purpose_template="NoSuchTemplate", password_consumed_on_failure=True
    ) as ndes:
        password = await ndes.password()
        device = ndes.device(0, "burnt")
        assert (
            hresult(await ndes.enrol(device, device.csr("burnt", challenge=password))) == 0x80094800
        )
        csr = device.csr("burnt", challenge=password, key_usage=frozenset({"digital_signature"}))
        assert hresult(await ndes.enrol(device, csr)) == 0x800B0110


def _poll(ndes: Ndes, device: Device, tid: str, signer: Device | None = None):  # type: ignore[no-untyped-def]
    data = IssuerAndSubject(ndes.ca_certs[2].subject, device.signer.subject)
    who = signer or device
    return ndes.request(who, data, message_type=MessageType.CERT_POLL, transaction_id=tid)  # type: ignore[arg-type]


async def test_pending_then_approved_through_cert_poll(start_ndes: StartNdes) -> None:
    async with start_ndes(general_purpose_template="ApprovalTemplate") as ndes:
        password = await ndes.password()
        device = ndes.device(0, "approve-me")
        first = ndes.request(device, device.csr("approve-me", challenge=password))
        assert (await ndes.send(first)).status is PkiStatus.PENDING
        (submission,) = ndes.ca.device_submissions
        request_id = max(ndes.ca.results)

        assert (
            await ndes.send(_poll(ndes, device, first.transaction_id))
        ).status is PkiStatus.PENDING
        assert ndes.ca.lookups == [request_id]
        # someone else cannot poll for it
        other = ndes.device(1, "other")
        stolen = await ndes.send(_poll(ndes, device, first.transaction_id, signer=other))
        assert stolen.fail_info is FailInfo.BAD_MESSAGE_CHECK
        # the password was used up by the pending request
        again = ndes.device(2, "again")
        assert (
            hresult(await ndes.enrol(again, again.csr("again", challenge=password))) == 0x800B0110
        )

        ndes.ca.approve(request_id)
        result = await ndes.send(_poll(ndes, device, first.transaction_id))
        assert result.status is PkiStatus.SUCCESS
        assert result.certificates[0].public_key() == device.key.public_key()
        assert (
            len(ndes.ca.device_submissions) == 1
            and submission.transaction_id == first.transaction_id
        )
        # resolved: the transaction is no longer known
        done = await ndes.send(_poll(ndes, device, first.transaction_id))
        assert done.fail_info is FailInfo.BAD_CERT_ID


async def test_pending_then_resent_pkcsreq_like_scepclient(start_ndes: StartNdes) -> None:
    async with start_ndes(general_purpose_template="ApprovalTemplate") as ndes:
        password = await ndes.password()
        device = ndes.device(0, "resend")
        csr = device.csr("resend", challenge=password)
        first = ndes.request(device, csr)
        assert (await ndes.send(first)).status is PkiStatus.PENDING
        ndes.ca.approve(max(ndes.ca.results))
        resent = ndes.request(device, csr, transaction_id=first.transaction_id)
        assert (await ndes.send(resent)).status is PkiStatus.SUCCESS
        assert len(ndes.ca.device_submissions) == 1


async def test_pending_then_denied(start_ndes: StartNdes) -> None:
    async with start_ndes(policy="none", general_purpose_template="ApprovalTemplate") as ndes:
        device = ndes.device(0, "deny-me")
        first = ndes.request(device, device.csr("deny-me"))
        assert (await ndes.send(first)).status is PkiStatus.PENDING
        ndes.ca.deny(max(ndes.ca.results))
        result = await ndes.send(_poll(ndes, device, first.transaction_id))
        assert (result.status, result.fail_info, hresult(result)) == (
            PkiStatus.FAILURE,
            FailInfo.BAD_REQUEST,
            0x80094014,
        )


async def _enrolled(ndes: Ndes, device: Device, cn: str) -> Device:
    """Enrol `device` with a password; return it as it is afterwards: signing with its cert."""
    password = await ndes.password()
    result = await ndes.enrol(device, device.csr(cn, challenge=password))
    assert result.status is PkiStatus.SUCCESS
    return Device(device.key, result.certificates[0])


@pytest.mark.parametrize("message_type", [MessageType.RENEWAL_REQ, MessageType.PKCS_REQ])
async def test_renewal_without_password(ndes: Ndes, message_type: MessageType) -> None:
    """RFC 8894 RenewalReq, and Windows' way: a PKCSReq signed by the old certificate."""
    old = await _enrolled(ndes, ndes.device(0, "laptop"), "laptop")
    new_key = ndes.device(1, "laptop")
    sent = build(
        new_key,
        new_key.csr("laptop"),
        [ndes.ra_encrypt],
        message_type=message_type,
        signer=old.signer,
        signer_key=old.key,
    )
    result = await ndes.send(sent)
    assert result.status is PkiStatus.SUCCESS
    assert result.certificates[0].public_key() == new_key.key.public_key()
    assert len(ndes.ca.device_submissions) == 2


async def test_renewal_with_an_expired_certificate_is_bad_time(ndes: Ndes) -> None:
    old = await _enrolled(ndes, ndes.device(0, "old"), "old")
    ndes.clock.advance(dt.timedelta(days=400))  # past the device certificate, not the RA ones
    new_key = ndes.device(1, "old")
    sent = build(
        new_key,
        new_key.csr("old"),
        [ndes.ra_encrypt],
        message_type=MessageType.RENEWAL_REQ,
        signer=old.signer,
        signer_key=old.key,
    )
    result = await ndes.send(sent)
    assert (result.status, result.fail_info, hresult(result)) == (
        PkiStatus.FAILURE,
        FailInfo.BAD_TIME,
        0x800B0101,
    )
    assert len(ndes.ca.device_submissions) == 1


@dataclass
class RecordingPolicy(NoPasswordPolicy):
    calls: list[tuple[object, ...]] = field(default_factory=list)

    async def initialize(self) -> None:
        self.calls.append(("initialize",))

    async def uninitialize(self) -> None:
        self.calls.append(("uninitialize",))

    async def verify_request(
        self, csr_der: bytes, signer_cert_der: bytes | None, template: str, transaction_id: str
    ) -> bool:
        self.calls.append(("verify", csr_der, signer_cert_der, template, transaction_id))
        return True

    async def notify(
        self,
        challenge: str | None,
        transaction_id: str,
        disposition: X509SCEPDisposition,
        hresult: int,
        issued_cert_der: bytes | None,
    ) -> None:
        self.calls.append(
            ("notify", challenge, transaction_id, disposition, hresult, issued_cert_der)
        )


async def test_policy_module_sees_verify_and_notify(start_ndes: StartNdes) -> None:
    policy = RecordingPolicy()
    async with start_ndes(policy_module=policy, encryption_template="NoSuchTemplate") as ndes:
        device = ndes.device(0, "watched")
        csr = device.csr("watched", challenge="ANYTHING")
        sent = ndes.request(device, csr)
        issued = (await ndes.send(sent)).certificates[0]
        renewal = build(
            device,
            device.csr("watched"),
            [ndes.ra_encrypt],
            message_type=MessageType.RENEWAL_REQ,
            signer=issued,
            signer_key=device.key,
        )
        await ndes.send(renewal)
        refused = ndes.request(
            device, device.csr("watched", key_usage=frozenset({"key_encipherment"}))
        )
        await ndes.send(refused)
    tid = sent.transaction_id
    assert policy.calls == [
        ("initialize",),
        ("verify", csr, None, "IPSECIntermediateOffline", tid),
        ("notify", "ANYTHING", tid, X509SCEPDisposition.SUCCESS, 0, der(issued)),
        (
            "verify",
            policy.calls[3][1],
            der(issued),
            "IPSECIntermediateOffline",
            renewal.transaction_id,
        ),
        policy.calls[4],
        ("verify", policy.calls[5][1], None, "NoSuchTemplate", refused.transaction_id),
        ("notify", None, refused.transaction_id, X509SCEPDisposition.FAILURE, 0x80094800, None),
        ("uninitialize",),
    ]
    assert policy.calls[4][3] is X509SCEPDisposition.SUCCESS


async def test_renewal_must_keep_the_subject(ndes: Ndes) -> None:
    old = await _enrolled(ndes, ndes.device(0, "mine"), "mine")
    new_key = ndes.device(1, "mine")
    for message_type in (MessageType.RENEWAL_REQ, MessageType.PKCS_REQ):
        sent = build(
            new_key,
            new_key.csr("someone-else"),
            [ndes.ra_encrypt],
            message_type=message_type,
            signer=old.signer,
            signer_key=old.key,
        )
        result = await ndes.send(sent)
        assert (result.status, result.fail_info, hresult(result)) == (
            PkiStatus.FAILURE,
            FailInfo.BAD_REQUEST,
            0x80094001,
        )
    assert len(ndes.ca.device_submissions) == 1
