"""Malformed and hostile input: every failure is a typed ScepError with the right failInfo."""

from __future__ import annotations

import pytest
from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import scep
from shared.scep import FailInfo, MessageType, signed

from .conftest import Setup, make_cert


def _request(setup: Setup, **kwargs: object) -> bytes:
    return scep.build_request(
        MessageType.PKCS_REQ,
        setup.csr_der,
        signer=setup.device.cert,
        key=setup.device.key,
        recipients=[setup.ra_encrypt.cert],
        transaction_id="tid-1",
        **kwargs,  # type: ignore[arg-type]
    )


def _open(setup: Setup, der: bytes) -> scep.PkiRequest:
    return scep.open_request(der, certificate=setup.ra_encrypt.cert, key=setup.ra_encrypt.key)


def _resign(setup: Setup, info: cms.ContentInfo, *, sign_again: bool = False) -> bytes:
    """Re-encode a tampered message; with `sign_again`, sign its attributes anew with the
    device key so that only the tampered part is wrong."""
    if sign_again:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signer_info = info["content"]["signer_infos"][0]
        to_sign = b"\x31" + signer_info["signed_attrs"].dump()[1:]
        signer_info["signature"] = setup.device.key.sign(
            to_sign, padding.PKCS1v15(), hashes.SHA256()
        )
    return bytes(info.dump())


@pytest.fixture(scope="module")
def good(setup: Setup) -> bytes:
    return _request(setup)


def test_truncations_raise_decode_errors(setup: Setup, good: bytes) -> None:
    for cut in range(0, len(good), 97):
        with pytest.raises(scep.ScepError):
            _open(setup, good[:cut])


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_scep_errors(setup: Setup, data: bytes) -> None:
    with pytest.raises(scep.ScepError):
        _open(setup, data)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_flipped_bytes_never_crash(setup: Setup, good: bytes, position: int, value: int) -> None:
    position %= len(good)
    mutated = good[:position] + bytes([value]) + good[position + 1 :]
    try:
        request = _open(setup, mutated)
    except scep.ScepError:
        return
    # a byte flip that still opens must have landed where nothing is checked (e.g. an unused
    # length-preserving field of the signer certificate is impossible: it is signed)
    assert request.csr_der == setup.csr_der


@pytest.mark.parametrize("serial", [0, -5])
def test_a_signer_certificate_with_a_serial_that_is_not_positive_is_malformed(
    setup: Setup, good: bytes, serial: int
) -> None:
    """Found by the flipped-bytes test: RFC 5280 forbids it; cryptography warns about it now and
    will refuse it later, so it is refused here, as malformed, today."""
    info = cms.ContentInfo.load(good)
    [certificate] = info["content"]["certificates"]
    certificate.chosen["tbs_certificate"]["serial_number"] = serial
    with pytest.raises(scep.DecodeError, match="serial number"):
        _open(setup, bytes(info.dump(force=True)))


def test_enveloped_data_at_the_outer_layer(setup: Setup, good: bytes) -> None:
    env = signed.verify(good).content
    assert env is not None
    with pytest.raises(scep.DecodeError, match="expected signedData"):
        _open(setup, env)


def test_bad_signature_is_bad_message_check_with_reply_context(setup: Setup, good: bytes) -> None:
    info = cms.ContentInfo.load(good)
    signer_info = info["content"]["signer_infos"][0]
    sig = bytearray(signer_info["signature"].native)
    sig[10] ^= 0xFF
    signer_info["signature"] = bytes(sig)
    with pytest.raises(scep.SignatureError) as caught:
        _open(setup, _resign(setup, info))
    assert caught.value.fail_info is FailInfo.BAD_MESSAGE_CHECK
    assert caught.value.context is not None
    assert caught.value.context.transaction_id == "tid-1"


def test_tampered_content_fails_message_digest(setup: Setup, good: bytes) -> None:
    info = cms.ContentInfo.load(good)
    env = bytearray(info["content"]["encap_content_info"]["content"].native)
    env[-1] ^= 1
    info["content"]["encap_content_info"]["content"] = bytes(env)
    with pytest.raises(scep.SignatureError, match="messageDigest"):
        _open(setup, _resign(setup, info, sign_again=True))


def test_wrong_recipient(setup: Setup) -> None:
    der = scep.build_request(
        MessageType.PKCS_REQ,
        setup.csr_der,
        signer=setup.device.cert,
        key=setup.device.key,
        recipients=[setup.ca.cert],
        transaction_id="tid-2",
    )
    with pytest.raises(scep.DecryptError, match="wrong recipient") as caught:
        _open(setup, der)
    assert caught.value.fail_info is FailInfo.BAD_MESSAGE_CHECK
    assert caught.value.context is not None and caught.value.context.transaction_id == "tid-2"


def test_right_name_wrong_key(setup: Setup, good: bytes) -> None:
    with pytest.raises(scep.DecryptError):
        scep.open_request(good, certificate=setup.ra_encrypt.cert, key=setup.ra_sign.key)


def _rebuild_with_attrs(setup: Setup, attrs: list[tuple[str, object]]) -> bytes:
    from shared.scep import envelope

    env = envelope.encrypt(setup.csr_der, [setup.ra_encrypt.cert])
    return signed.sign(
        env,
        attrs,  # type: ignore[arg-type]
        signer=setup.device.cert,
        key=setup.device.key,
        digest=scep.Digest.SHA256,
        certificates=[setup.device.cert],
    )


@pytest.mark.parametrize("missing", ["messageType", "transactionID", "senderNonce"])
def test_missing_attributes(setup: Setup, missing: str) -> None:
    from asn1crypto import core

    attrs = {
        "messageType": ("scep_message_type", core.PrintableString("19")),
        "transactionID": ("scep_transaction_id", core.PrintableString("t")),
        "senderNonce": ("scep_sender_nonce", core.OctetString(b"n" * 16)),
    }
    del attrs[missing]
    with pytest.raises(scep.MissingAttribute, match=missing):
        _open(setup, _rebuild_with_attrs(setup, list(attrs.values())))


@pytest.mark.parametrize(("value", "match"), [("0", "unknown messageType"), ("abc", "decimal")])
def test_bad_message_type(setup: Setup, value: str, match: str) -> None:
    from asn1crypto import core

    attrs = [
        ("scep_message_type", core.PrintableString(value)),
        ("scep_transaction_id", core.PrintableString("t")),
        ("scep_sender_nonce", core.OctetString(b"n" * 16)),
    ]
    with pytest.raises(scep.DecodeError, match=match):
        _open(setup, _rebuild_with_attrs(setup, attrs))


def test_transaction_id_as_utf8_string_is_tolerated(setup: Setup, good: bytes) -> None:
    from asn1crypto import core

    from shared.scep import asn1

    info = cms.ContentInfo.load(good)
    for attr in info["content"]["signer_infos"][0]["signed_attrs"]:
        if attr["type"].native == "scep_transaction_id":
            value = core.UTF8String("tid-utf8").dump()
            attr["values"] = asn1.SetOfPrintableString.load(b"\x31" + bytes([len(value)]) + value)
    request = _open(setup, _resign(setup, info, sign_again=True))
    assert request.transaction_id == "tid-utf8"


def test_unsupported_digest(setup: Setup, good: bytes) -> None:
    info = cms.ContentInfo.load(good)
    info["content"]["signer_infos"][0]["digest_algorithm"] = {"algorithm": "md5"}
    with pytest.raises(scep.UnsupportedAlgorithm, match="md5") as caught:
        _open(setup, _resign(setup, info))
    assert caught.value.fail_info is FailInfo.BAD_ALG


def test_unsupported_signature_algorithm(setup: Setup, good: bytes) -> None:
    info = cms.ContentInfo.load(good)
    info["content"]["signer_infos"][0]["signature_algorithm"] = {"algorithm": "sha256_ecdsa"}
    with pytest.raises(scep.UnsupportedAlgorithm):
        _open(setup, _resign(setup, info))


def test_unsupported_content_cipher(setup: Setup) -> None:
    from shared.scep import envelope

    env = cms.ContentInfo.load(envelope.encrypt(setup.csr_der, [setup.ra_encrypt.cert]))
    eci = env["content"]["encrypted_content_info"]
    eci["content_encryption_algorithm"] = {
        "algorithm": "rc2",
        "parameters": {"rc2_parameter_version": 58, "iv": b"12345678"},
    }
    from asn1crypto import core

    der = signed.sign(
        bytes(env.dump(force=True)),
        [
            ("scep_message_type", core.PrintableString("19")),
            ("scep_transaction_id", core.PrintableString("t")),
            ("scep_sender_nonce", core.OctetString(b"n" * 16)),
        ],
        signer=setup.device.cert,
        key=setup.device.key,
        digest=scep.Digest.SHA256,
        certificates=[setup.device.cert],
    )
    with pytest.raises(scep.UnsupportedAlgorithm, match="rc2") as caught:
        _open(setup, der)
    assert caught.value.context is not None


def test_signer_not_included(setup: Setup, good: bytes) -> None:
    info = cms.ContentInfo.load(good)
    info["content"]["certificates"] = []
    with pytest.raises(scep.SignatureError, match="not in SignedData"):
        _open(setup, _resign(setup, info))


def test_cert_rep_from_an_unknown_signer_is_refused(setup: Setup) -> None:
    import cryptography.hazmat.primitives.asymmetric.rsa as rsa

    rogue_key = rsa.generate_private_key(65537, 2048)
    rogue = make_cert("Rogue RA", rogue_key)
    ctx = scep.ReplyContext(
        scep.TransactionId("t"), b"n" * 16, scep.Digest.SHA256, setup.device.cert
    )
    der = scep.build_failure(
        ctx, FailInfo.BAD_REQUEST, ra_cert=rogue, ra_key=rogue_key, ndes_shape=False
    )
    with pytest.raises(scep.SignatureError, match="GetCACert"):
        scep.read_cert_rep(
            der,
            ra_certs=setup.ca_ra,
            certificate=setup.device.cert,
            key=setup.device.key,
            transaction_id="t",
            sender_nonce=b"n" * 16,
        )


@pytest.mark.parametrize(
    ("tid", "nonce", "match"),
    [("other", b"n" * 16, "transactionID"), ("t", b"m" * 16, "recipientNonce")],
)
def test_cert_rep_echoes_are_checked(setup: Setup, tid: str, nonce: bytes, match: str) -> None:
    ctx = scep.ReplyContext(
        scep.TransactionId("t"), b"n" * 16, scep.Digest.SHA256, setup.device.cert
    )
    der = scep.build_pending(ctx, ra_cert=setup.ra_sign.cert, ra_key=setup.ra_sign.key)
    with pytest.raises(scep.DecodeError, match=match):
        scep.read_cert_rep(
            der,
            ra_certs=setup.ca_ra,
            certificate=setup.device.cert,
            key=setup.device.key,
            transaction_id=tid,
            sender_nonce=nonce,
        )


def test_cert_rep_is_not_a_request(setup: Setup) -> None:
    ctx = scep.ReplyContext(
        scep.TransactionId("t"), b"n" * 16, scep.Digest.SHA256, setup.device.cert
    )
    der = scep.build_pending(ctx, ra_cert=setup.ra_sign.cert, ra_key=setup.ra_sign.key)
    with pytest.raises(scep.DecodeError, match="not a request"):
        _open(setup, der)


def test_garbage_csr_in_envelope(setup: Setup) -> None:
    from asn1crypto import core

    from shared.scep import envelope

    env = envelope.encrypt(b"\x30\x03\x02\x01\x00", [setup.ra_encrypt.cert])
    der = signed.sign(
        env,
        [
            ("scep_message_type", core.PrintableString("19")),
            ("scep_transaction_id", core.PrintableString("t")),
            ("scep_sender_nonce", core.OctetString(b"n" * 16)),
        ],
        signer=setup.device.cert,
        key=setup.device.key,
        digest=scep.Digest.SHA256,
        certificates=[setup.device.cert],
    )
    with pytest.raises(scep.DecodeError, match="messageData of PKCS_REQ") as caught:
        _open(setup, der)
    assert caught.value.context is not None
