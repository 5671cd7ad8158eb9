"""Every refusal: a signed FAILURE (HTTP 200) with failInfo and HRESULT, or an HTTP error —
and in each case nothing changed: the password still works, and the CA was never asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from asn1crypto import cms, core

from shared.scep import (
    ContentCipher,
    Digest,
    FailInfo,
    IssuerAndSerial,
    IssuerAndSubject,
    MessageType,
    PkiStatus,
)
from shared.scep import envelope as scep_envelope
from shared.scep.signed import sign
from tests.api.ndes_plugin.conftest import MSCEP, Ndes, StartNdes
from tests.api.ndes_plugin.helpers import Device, Sent, b64, build, hresult, read

AES128_OID = bytes.fromhex("0609608648016503040102")
AES192_OID = bytes.fromhex("0609608648016503040116")


@pytest.fixture
async def guarded(ndes: Ndes) -> AsyncIterator[tuple[Ndes, str]]:
    """A running NDES and a password; afterwards, check that nothing changed."""
    password = await ndes.password()
    yield ndes, password
    assert ndes.ca.device_submissions == [], "a refused request reached the CA"
    device = ndes.device(5, "afterwards")
    result = await ndes.enrol(device, device.csr("afterwards", challenge=password))
    assert result.status is PkiStatus.SUCCESS, "the refused request used the password up"


def _resign(
    device: Device, content: bytes, message_type: MessageType, attributes: bool = True
) -> Sent:
    """A request around `content` (an EnvelopedData we built by hand), signed by the device."""
    sent = Sent(b"", "tid-by-hand-0001", b"\x01" * 16, device.signer, device.key)
    attrs: list[tuple[str, core.Asn1Value]] = [
        ("scep_message_type", core.PrintableString(str(int(message_type))))
    ]
    if attributes:
        attrs += [
            ("scep_transaction_id", core.PrintableString(sent.transaction_id)),
            ("scep_sender_nonce", core.OctetString(sent.nonce)),
        ]
    der = sign(
        content,
        attrs,
        signer=device.signer,
        key=device.key,
        digest=Digest.SHA256,
        certificates=[device.signer],
    )
    return Sent(der, sent.transaction_id, sent.nonce, device.signer, device.key)


async def _failure(ndes: Ndes, sent: Sent) -> tuple[FailInfo | None, int | None]:
    result = await ndes.send(sent)
    assert result.status is PkiStatus.FAILURE
    return result.fail_info, hresult(result)


async def test_tampered_signature_is_bad_message_check(guarded: tuple[Ndes, str]) -> None:
    ndes, password = guarded
    device = ndes.device(0, "tamper")
    sent = ndes.request(device, device.csr("tamper", challenge=password))
    signature = cms.ContentInfo.load(sent.der)["content"]["signer_infos"][0]["signature"].native
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    tampered = Sent(
        sent.der.replace(signature, flipped),
        sent.transaction_id,
        sent.nonce,
        sent.certificate,
        sent.key,
    )
    assert await _failure(ndes, tampered) == (FailInfo.BAD_MESSAGE_CHECK, 0x80090006)


async def test_wrong_recipient_is_bad_message_check(guarded: tuple[Ndes, str]) -> None:
    ndes, password = guarded
    device = ndes.device(0, "wrong-recipient")
    sent = build(device, device.csr("wrong-recipient", challenge=password), [ndes.ra_sign])
    assert await _failure(ndes, sent) == (FailInfo.BAD_MESSAGE_CHECK, 0x80090005)


async def test_unsupported_cipher_is_bad_alg(guarded: tuple[Ndes, str]) -> None:
    ndes, password = guarded
    device = ndes.device(0, "aes192")
    enveloped = scep_envelope.encrypt(
        device.csr("aes192", challenge=password),
        [ndes.ra_encrypt],
        cipher=ContentCipher.AES_128_CBC,
    )
    assert enveloped.count(AES128_OID) == 1
    sent = _resign(device, enveloped.replace(AES128_OID, AES192_OID), MessageType.PKCS_REQ)
    assert await _failure(ndes, sent) == (FailInfo.BAD_ALG, 0x80090008)


async def test_undecodable_csr_is_bad_request(guarded: tuple[Ndes, str]) -> None:
    ndes, _ = guarded
    device = ndes.device(0, "garbage")
    assert await _failure(ndes, ndes.request(device, b"\x30\x03\x02\x01\x00")) == (
        FailInfo.BAD_REQUEST,
        0x80070057,
    )


async def test_csr_with_a_bad_signature_is_bad_message_check(guarded: tuple[Ndes, str]) -> None:
    ndes, password = guarded
    device = ndes.device(0, "pop")
    csr = device.csr("pop", challenge=password)
    broken = csr[:-1] + bytes([csr[-1] ^ 1])
    assert await _failure(ndes, ndes.request(device, broken)) == (
        FailInfo.BAD_MESSAGE_CHECK,
        0x80090006,
    )


async def test_get_crl_and_get_cert_are_bad_request(guarded: tuple[Ndes, str]) -> None:
    ndes, _ = guarded
    device = ndes.device(0, "getcrl")
    data = IssuerAndSerial(ndes.ca_certs[2].subject, 12345)
    for message_type in (MessageType.GET_CRL, MessageType.GET_CERT):
        sent = ndes.request(device, data, message_type=message_type)  # type: ignore[arg-type]
        assert await _failure(ndes, sent) == (FailInfo.BAD_REQUEST, 0x80070057)


async def test_cert_poll_for_an_unknown_transaction_is_bad_cert_id(
    guarded: tuple[Ndes, str],
) -> None:
    ndes, _ = guarded
    device = ndes.device(0, "poller")
    data = IssuerAndSubject(ndes.ca_certs[2].subject, device.signer.subject)
    sent = ndes.request(device, data, message_type=MessageType.CERT_POLL)  # type: ignore[arg-type]
    assert await _failure(ndes, sent) == (FailInfo.BAD_CERT_ID, 0x80092004)


async def test_renewal_req_signed_by_a_stranger_is_bad_message_check(
    guarded: tuple[Ndes, str],
) -> None:
    ndes, _ = guarded
    device = ndes.device(0, "stranger")
    sent = ndes.request(device, device.csr("stranger"), message_type=MessageType.RENEWAL_REQ)
    assert await _failure(ndes, sent) == (FailInfo.BAD_MESSAGE_CHECK, 0x800B0109)


async def test_ca_unreachable_is_bad_request_with_rpc_hresult(guarded: tuple[Ndes, str]) -> None:
    ndes, password = guarded
    device = ndes.device(0, "ca-down")
    ndes.ca.down = True
    assert await _failure(
        ndes, ndes.request(device, device.csr("ca-down", challenge=password))
    ) == (
        FailInfo.BAD_REQUEST,
        0x800706BA,
    )
    ndes.ca.down = False


@pytest.mark.parametrize(
    "query",
    [
        "operation=PKIOperation&message=this%20is%20not%20base64!",
        f"operation=PKIOperation&message={b64(b'not a CMS message at all')}",
        "operation=PKIOperation",
        "operation=PKIOperation&message=",
    ],
)
async def test_malformed_get_is_400(guarded: tuple[Ndes, str], query: str) -> None:
    ndes, _ = guarded
    assert (await ndes.client.get(f"{MSCEP}?{query}")).status_code == 400


async def test_malformed_post_is_400(guarded: tuple[Ndes, str]) -> None:
    ndes, password = guarded
    device = ndes.device(0, "no-tid")
    assert (await ndes.post(b"")).status_code == 400
    assert (await ndes.post(b"\x30\x80garbage")).status_code == 400
    enveloped = scep_envelope.encrypt(device.csr("no-tid", challenge=password), [ndes.ra_encrypt])
    no_tid = _resign(device, enveloped, MessageType.PKCS_REQ, attributes=False)
    response = await ndes.post(no_tid.der)
    assert response.status_code == 400
    assert "transactionID" in response.text


async def test_body_over_max_body_is_413(guarded: tuple[Ndes, str]) -> None:
    ndes, _ = guarded
    assert (await ndes.post(b"\x30" * 65537)).status_code == 413

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"\x00" * 4096

    response = await ndes.client.post(f"{MSCEP}?operation=PKIOperation", content=stream())
    assert response.status_code == 413


async def test_query_over_max_query_is_414(start_ndes: StartNdes) -> None:
    # httpx refuses URLs over 64 KiB itself, so the limit is lowered to test the mechanism
    async with start_ndes(max_query=8192) as ndes:
        password = await ndes.password()
        device = ndes.device(0, "long")
        sent = ndes.request(device, device.csr("long", challenge=password))
        message = quote(b64(sent.der), safe="")
        too_long = f"{MSCEP}?operation=PKIOperation&message={message}&pad={'A' * 8192}"
        assert (await ndes.client.get(too_long)).status_code == 414
        assert ndes.ca.device_submissions == []
        just_fits = f"operation=PKIOperation&message={message}&pad="
        padded = f"{MSCEP}?{just_fits}{'A' * (8192 - len(just_fits))}"
        response = await ndes.client.get(padded)
        assert response.status_code == 200
        assert read(response.content, sent, ndes.ca_certs).status is PkiStatus.SUCCESS


async def test_a_failure_reply_has_the_ndes_shape(guarded: tuple[Ndes, str]) -> None:
    ndes, _ = guarded
    device = ndes.device(0, "shape")
    sent = ndes.request(
        device, IssuerAndSerial(ndes.ca_certs[2].subject, 1), message_type=MessageType.GET_CRL
    )  # type: ignore[arg-type]
    response = await ndes.post(sent.der)
    signed_data = cms.ContentInfo.load(response.content)["content"]
    assert signed_data["encap_content_info"]["content"].native == b"\x00"  # NDES's 1-byte eContent
    assert not signed_data["certificates"]
    assert read(response.content, sent, ndes.ca_certs).fail_info is FailInfo.BAD_REQUEST


async def test_ra_certificates_out_of_date_is_500(start_ndes: StartNdes) -> None:
    import datetime as dt

    async with start_ndes() as ndes:
        ndes.clock.advance(dt.timedelta(days=800))
        assert (await ndes.client.get(f"{MSCEP}?operation=GetCACert")).status_code == 500
        assert (await ndes.post(b"\x30\x00")).status_code == 500
        assert (await ndes.client.get("/health")).json()["raSigning"]["valid"] is False
