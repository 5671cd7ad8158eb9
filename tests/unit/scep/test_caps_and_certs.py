"""GetCACaps text, certs-only PKCS#7, GetNextCACert, HRESULTs and attribute registration."""

from __future__ import annotations

import pytest
from asn1crypto import cms

from shared import scep
from shared.scep import Capability, asn1, signed

from .conftest import Setup


def test_caps_round_trip_keeps_exact_case_and_crlf() -> None:
    body = scep.build_caps([Capability.POST_PKI_OPERATION, Capability.SHA256, Capability.AES])
    assert body == "POSTPKIOperation\r\nSHA-256\r\nAES\r\n"
    assert scep.parse_caps(body) == {
        Capability.POST_PKI_OPERATION,
        Capability.SHA256,
        Capability.AES,
    }


def test_caps_parse_is_case_insensitive_and_ignores_unknown_words() -> None:
    text = "postpkioperation\nsha-512\n  Renewal\r\nX-Vendor-Thing\n\nscepstandard"
    assert scep.parse_caps(text) == {
        Capability.POST_PKI_OPERATION,
        Capability.SHA512,
        Capability.RENEWAL,
        Capability.SCEP_STANDARD,
    }
    assert scep.parse_caps("") == frozenset()


def test_certs_only_keeps_order_and_crls(setup: Setup) -> None:
    certs, crls = scep.parse_certs_only(scep.build_certs_only(setup.ca_ra))
    assert list(certs) == setup.ca_ra
    assert crls == ()


def test_certs_only_rejects_garbage() -> None:
    with pytest.raises(scep.DecodeError):
        scep.parse_certs_only(b"\x30\x03\x02\x01\x01")


def test_next_ca_cert_is_signed_by_the_current_ca(setup: Setup) -> None:
    der = scep.build_next_ca_cert(
        [setup.ra_encrypt.cert], ca_cert=setup.ca.cert, ca_key=setup.ca.key
    )
    verified = signed.verify(der)
    assert verified.signer == setup.ca.cert
    assert verified.content is not None
    certs, _ = scep.parse_certs_only(verified.content)
    assert certs == (setup.ra_encrypt.cert,)


@pytest.mark.parametrize(
    ("hresult", "printed"),
    [(0x80070057, -2147024809), (0x80094800, -2146875392), (0, 0), (-2147024809, -2147024809)],
)
def test_hresults_print_as_signed_decimals(hresult: int, printed: int) -> None:
    assert scep.signed_hresult(hresult) == printed


def test_registration_is_idempotent_and_names_scep_oids() -> None:
    asn1.register()
    asn1.register()
    assert cms.CMSAttributeType.map(asn1.OID_TRANSACTION_ID) == "scep_transaction_id"
    assert cms.CMSAttributeType.unmap("scep_message_type") == asn1.OID_MESSAGE_TYPE
    # asn1crypto's own entries are untouched
    assert cms.CMSAttributeType.map("1.2.840.113549.1.9.3") == "content_type"


def test_registration_refuses_to_overwrite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asn1, "_registered", False)
    monkeypatch.setitem(cms.CMSAttributeType._map, asn1.OID_PKI_STATUS, "someone_elses")
    with pytest.raises(asn1.RegistrationConflict, match=asn1.OID_PKI_STATUS):
        asn1.register()


def test_what_we_emit_is_der(setup: Setup) -> None:
    """The codec assembles DER by hand for speed: asn1crypto re-encoding it (force=True, which
    sorts every SET OF and re-derives every length) must give the same bytes."""
    from shared.scep import envelope

    request = scep.build_request(
        scep.MessageType.PKCS_REQ,
        setup.csr_der,
        signer=setup.device.cert,
        key=setup.device.key,
        recipients=setup.ca_ra,
        transaction_id="t",
    )
    ctx = scep.ReplyContext(
        scep.TransactionId("t"), b"n" * 16, scep.Digest.SHA256, setup.device.cert
    )
    failure = scep.build_failure(
        ctx,
        scep.FailInfo.BAD_REQUEST,
        ra_cert=setup.ra_sign.cert,
        ra_key=setup.ra_sign.key,
        text="x",
        hresult=5,
    )
    pending = scep.build_pending(ctx, ra_cert=setup.ra_sign.cert, ra_key=setup.ra_sign.key)
    for der in (request, failure, pending, envelope.encrypt(b"abc", setup.ca_ra)):
        assert bytes(cms.ContentInfo.load(der).dump(force=True)) == der
    inner = signed.verify(request).content
    assert inner is not None
    assert bytes(cms.ContentInfo.load(inner).dump(force=True)) == inner
