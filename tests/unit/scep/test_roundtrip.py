"""Round trips through the codec: every request type, cipher, digest and signature style."""

from __future__ import annotations

import string

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import scep
from shared.scep import ContentCipher, Digest, MessageType, PkiStatus

from .conftest import Setup

EMITTED_CIPHERS = [c for c in ContentCipher if c is not ContentCipher.DES_CBC]
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "device-1")])


def _data(message_type: MessageType, setup: Setup) -> scep.MessageData:
    if message_type in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ):
        return setup.csr_der
    if message_type is MessageType.CERT_POLL:
        return scep.IssuerAndSubject(setup.ca.cert.subject, NAME)
    return scep.IssuerAndSerial(setup.ca.cert.subject, 0x1234ABCD)


printable_ids = st.text(
    alphabet=string.ascii_letters + string.digits + "+/=-_ ", min_size=1, max_size=64
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    message_type=st.sampled_from([t for t in MessageType if t is not MessageType.CERT_REP]),
    cipher=st.sampled_from(EMITTED_CIPHERS),
    digest=st.sampled_from(list(Digest)),
    style=st.sampled_from(["rsa", "sha_rsa"]),
    transaction_id=printable_ids,
    nonce=st.binary(min_size=16, max_size=16),
)
def test_request_round_trip(
    setup: Setup,
    message_type: MessageType,
    cipher: ContentCipher,
    digest: Digest,
    style: str,
    transaction_id: str,
    nonce: bytes,
) -> None:
    data = _data(message_type, setup)
    der = scep.build_request(
        message_type,
        data,
        signer=setup.device.cert,
        key=setup.device.key,
        recipients=setup.ca_ra,
        transaction_id=transaction_id,
        cipher=cipher,
        digest=digest,
        sender_nonce=nonce,
        signature_style=style,  # type: ignore[arg-type]
    )
    request = scep.open_request(der, certificate=setup.ra_encrypt.cert, key=setup.ra_encrypt.key)
    assert request.message_type is message_type
    assert request.transaction_id == transaction_id
    assert request.message.sender_nonce == nonce
    assert request.message.digest is digest
    assert request.message.signer == setup.device.cert
    assert request.cipher is cipher
    assert request.data == data


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cipher=st.sampled_from(list(ContentCipher)),
    digest=st.sampled_from(list(Digest)),
    transaction_id=printable_ids,
    nonce=st.binary(min_size=16, max_size=16),
)
def test_cert_rep_success_round_trip(
    setup: Setup, cipher: ContentCipher, digest: Digest, transaction_id: str, nonce: bytes
) -> None:
    issued = setup.issue(NAME)
    ctx = scep.ReplyContext(scep.TransactionId(transaction_id), nonce, digest, setup.device.cert)
    der = scep.build_success(
        ctx,
        certificates=[issued, setup.ca.cert],
        ra_cert=setup.ra_sign.cert,
        ra_key=setup.ra_sign.key,
        cipher=scep.reply_cipher(cipher),
    )
    result = scep.read_cert_rep(
        der,
        ra_certs=setup.ca_ra,
        certificate=setup.device.cert,
        key=setup.device.key,
        transaction_id=transaction_id,
        sender_nonce=nonce,
    )
    assert result.status is PkiStatus.SUCCESS
    assert result.certificates == (issued, setup.ca.cert)  # issued first, order kept
    assert result.recipient_nonce == nonce
    assert result.sender_nonce != nonce and len(result.sender_nonce) == 16
    message = scep.parse_message(der)
    assert message.digest is digest
    assert message.signer == setup.ra_sign.cert


@pytest.mark.parametrize("fail_info", list(scep.FailInfo))
@pytest.mark.parametrize("ndes_shape", [True, False])
def test_failure_round_trip(setup: Setup, fail_info: scep.FailInfo, ndes_shape: bool) -> None:
    ctx = scep.ReplyContext(scep.TransactionId("42"), b"n" * 16, Digest.SHA256, setup.device.cert)
    der = scep.build_failure(
        ctx,
        fail_info,
        ra_cert=setup.ra_sign.cert,
        ra_key=setup.ra_sign.key,
        text="Le défi a expiré",
        hresult=0x80094800,
        ndes_shape=ndes_shape,
    )
    result = scep.read_cert_rep(
        der,
        ra_certs=setup.ca_ra,
        certificate=setup.device.cert,
        key=setup.device.key,
        transaction_id="42",
        sender_nonce=b"n" * 16,
    )
    assert result.status is PkiStatus.FAILURE
    assert result.fail_info is fail_info
    assert result.fail_info_text == "Le défi a expiré"
    assert result.hresult == -2146875392  # 0x80094800 as NDES prints it
    assert result.certificates == ()
    message = scep.parse_message(der, extra_certs=setup.ca_ra)
    assert message.certificates == (() if ndes_shape else (setup.ra_sign.cert,))


def test_pending_round_trip(setup: Setup) -> None:
    ctx = scep.ReplyContext(scep.TransactionId("7"), b"x" * 16, Digest.SHA1, setup.device.cert)
    der = scep.build_pending(ctx, ra_cert=setup.ra_sign.cert, ra_key=setup.ra_sign.key)
    result = scep.read_cert_rep(
        der,
        ra_certs=setup.ca_ra,
        certificate=setup.device.cert,
        key=setup.device.key,
        transaction_id="7",
        sender_nonce=b"x" * 16,
    )
    assert result.status is PkiStatus.PENDING
    assert result.fail_info is None


def test_get_crl_success_carries_the_crl(setup: Setup) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives import hashes, serialization

    from .conftest import NOW

    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(setup.ca.cert.subject)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(99).revocation_date(NOW).build()
        )
        .sign(setup.ca.key, hashes.SHA256())
    )
    crl_der = crl.public_bytes(serialization.Encoding.DER)
    ctx = scep.ReplyContext(scep.TransactionId("c"), b"y" * 16, Digest.SHA256, setup.device.cert)
    der = scep.build_success(
        ctx,
        certificates=[],
        crls=[crl_der],
        ra_cert=setup.ra_sign.cert,
        ra_key=setup.ra_sign.key,
        cipher=ContentCipher.AES_256_CBC,
    )
    result = scep.read_cert_rep(
        der,
        ra_certs=setup.ca_ra,
        certificate=setup.device.cert,
        key=setup.device.key,
        transaction_id="c",
        sender_nonce=b"y" * 16,
    )
    assert result.crls == (crl_der,)
    assert x509.load_der_x509_crl(result.crls[0]).get_revoked_certificate_by_serial_number(99)


def test_server_finds_its_recipient_info_among_several(setup: Setup) -> None:
    # micromdm's scepclient encrypts to every certificate GetCACert returned
    for recipients in (setup.ca_ra, list(reversed(setup.ca_ra))):
        der = scep.build_request(
            MessageType.PKCS_REQ,
            setup.csr_der,
            signer=setup.device.cert,
            key=setup.device.key,
            recipients=recipients,
            transaction_id="t",
        )
        request = scep.open_request(
            der, certificate=setup.ra_encrypt.cert, key=setup.ra_encrypt.key
        )
        assert request.csr_der == setup.csr_der


def test_oaep_key_transport(setup: Setup) -> None:
    from shared.scep import envelope

    der = envelope.encrypt(b"hello", [setup.ra_encrypt.cert], key_transport="rsaes_oaep")
    opened = envelope.decrypt(der, certificate=setup.ra_encrypt.cert, key=setup.ra_encrypt.key)
    assert opened.content == b"hello"
    assert opened.key_transport == "rsaes_oaep"


def test_single_des_is_never_produced(setup: Setup) -> None:
    with pytest.raises(scep.UnsupportedAlgorithm):
        scep.build_request(
            MessageType.PKCS_REQ,
            setup.csr_der,
            signer=setup.device.cert,
            key=setup.device.key,
            recipients=[setup.ra_encrypt.cert],
            transaction_id="t",
            cipher=ContentCipher.DES_CBC,
        )


@pytest.mark.parametrize(
    ("requested", "allowed", "expected"),
    [
        (ContentCipher.DES_CBC, tuple(ContentCipher), ContentCipher.DES_EDE3_CBC),
        (ContentCipher.AES_256_CBC, tuple(ContentCipher), ContentCipher.AES_256_CBC),
        (ContentCipher.AES_128_CBC, (ContentCipher.DES_EDE3_CBC,), ContentCipher.DES_EDE3_CBC),
        (ContentCipher.DES_CBC, (ContentCipher.AES_128_CBC,), ContentCipher.AES_128_CBC),
    ],
)
def test_reply_cipher(
    requested: ContentCipher, allowed: tuple[ContentCipher, ...], expected: ContentCipher
) -> None:
    assert scep.reply_cipher(requested, allowed) is expected


def test_reply_cipher_refuses_des_only() -> None:
    with pytest.raises(ValueError, match="no cipher"):
        scep.reply_cipher(ContentCipher.DES_CBC, (ContentCipher.DES_CBC,))
