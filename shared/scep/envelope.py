"""CMS EnvelopedData with RSA key transport (RFC 5652 §6): encrypt to certificates, decrypt.

Content ciphers: AES-128/256-CBC and DES-EDE3-CBC both ways; single DES-CBC is opened (micromdm's
scepclient always sends it) but never produced. Key transport: RSA PKCS#1 v1.5, or OAEP.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from asn1crypto import cms, parser
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, algorithms, modes

from . import asn1
from .errors import DecodeError, DecryptError, UnsupportedAlgorithm
from .signed import der_of, issuer_and_serial, tlv, to_asn1_cert
from .types import ContentCipher, Envelope

KeyTransport = Literal["rsaes_pkcs1v15", "rsaes_oaep"]


def _children(contents: bytes) -> list[tuple[int, int, int, bytes, bytes]]:
    """The TLVs of a constructed value's body: (class, method, tag, whole encoding, body)."""
    out, rest = [], contents
    while rest:
        class_, method, tag, header, body, trailer = parser.parse(rest)
        size = len(header) + len(body) + len(trailer)
        out.append((class_, method, tag, rest[:size], body))
        rest = rest[size:]
    return out


def _enveloped_data(der: bytes) -> cms.EnvelopedData:
    """The EnvelopedData inside a ContentInfo.

    Read by hand down to encryptedContent, which Go's pkcs7 (micromdm's scepclient) sends as a
    constructed [0] (BER) and asn1crypto only reads primitive; it is re-encoded primitive first.
    """
    class_, method, tag, _, body, _ = parser.parse(der, strict=True)
    if (class_, method, tag) != (0, 1, 16):
        raise DecodeError("ContentInfo is not a SEQUENCE")
    children = _children(body)
    if len(children) != 2 or children[0][:3] != (0, 0, 6) or children[1][:3] != (2, 1, 0):
        raise DecodeError("ContentInfo is not contentType + [0] content")
    content_type = cms.ContentType.load(children[0][3]).native
    if content_type != "enveloped_data":
        raise DecodeError(f"expected envelopedData, got {content_type}")
    inner = _children(children[1][4])
    if len(inner) != 1 or inner[0][:3] != (0, 1, 16):
        raise DecodeError("EnvelopedData is not a SEQUENCE")
    fields = []
    for class_, method, tag, whole, body in _children(inner[0][4]):
        if (class_, method, tag) == (0, 1, 16):  # encryptedContentInfo: the only SEQUENCE here
            pieces = []
            for c2, m2, t2, w2, b2 in _children(body):
                pieces.append(tlv(0x80, _octets(m2, b2)) if (c2, t2) == (2, 0) else w2)
            whole = tlv(0x30, b"".join(pieces))
        fields.append(whole)
    return cms.EnvelopedData.load(tlv(0x30, b"".join(fields)), strict=True)


def _octets(method: int, contents: bytes, depth: int = 0) -> bytes:
    """The bytes of an OCTET STRING body, primitive or constructed (nested pieces joined)."""
    if method == 0:
        return contents
    if depth > 8:
        raise DecodeError("constructed OCTET STRING nested too deeply")
    out = []
    for class_, piece_method, tag, _, body in _children(contents):
        if (class_, tag) != (0, 4):
            raise DecodeError("a constructed OCTET STRING holds something else")
        out.append(_octets(piece_method, body, depth + 1))
    return b"".join(out)


_KEY_SIZES = {
    ContentCipher.DES_CBC: 8,
    ContentCipher.DES_EDE3_CBC: 24,
    ContentCipher.AES_128_CBC: 16,
    ContentCipher.AES_256_CBC: 32,
}


def _algorithm(cipher: ContentCipher, key: bytes) -> CipherAlgorithm:
    if cipher is ContentCipher.DES_CBC:
        return TripleDES(key * 3)  # three equal keys: single DES
    if cipher is ContentCipher.DES_EDE3_CBC:
        return TripleDES(key)
    return algorithms.AES(key)


def _block_bits(cipher: ContentCipher) -> int:
    return 64 if cipher in (ContentCipher.DES_CBC, ContentCipher.DES_EDE3_CBC) else 128


def encrypt(
    content: bytes,
    recipients: Sequence[x509.Certificate],
    *,
    cipher: ContentCipher = ContentCipher.AES_128_CBC,
    key_transport: KeyTransport = "rsaes_pkcs1v15",
) -> bytes:
    """ContentInfo(EnvelopedData) of `content`, one KeyTransRecipientInfo per recipient."""
    if cipher is ContentCipher.DES_CBC:
        raise UnsupportedAlgorithm("single DES is accepted on input only, never produced")
    if not recipients:
        raise ValueError("at least one recipient is needed")
    asn1.register()
    key = os.urandom(_KEY_SIZES[cipher])
    iv = os.urandom(_block_bits(cipher) // 8)
    padder = padding.PKCS7(_block_bits(cipher)).padder()
    padded = padder.update(content) + padder.finalize()
    enc = Cipher(_algorithm(cipher, key), modes.CBC(iv)).encryptor()
    encrypted = enc.update(padded) + enc.finalize()

    infos = []
    transport_alg = _KEY_TRANSPORT_DER[key_transport]
    for cert in recipients:
        public_key = cert.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise UnsupportedAlgorithm("recipients need RSA keys for key transport")
        pad: asym_padding.AsymmetricPadding = (
            asym_padding.PKCS1v15()
            if key_transport == "rsaes_pkcs1v15"
            else asym_padding.OAEP(asym_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
        )
        issuer_der, serial_tlv, _ = issuer_and_serial(cert)
        infos.append(
            tlv(
                0x30,
                b"\x02\x01\x00"
                + tlv(0x30, issuer_der + serial_tlv)
                + transport_alg
                + tlv(0x04, public_key.encrypt(key, pad)),
            )
        )
    eci = tlv(
        0x30,
        der_of("ctype", "data") + _content_alg_der(cipher, iv) + tlv(0x80, encrypted),
    )
    enveloped = tlv(0x30, b"\x02\x01\x00" + tlv(0x31, b"".join(sorted(infos))) + eci)
    return tlv(0x30, der_of("ctype", "enveloped_data") + tlv(0xA0, enveloped))


_KEY_TRANSPORT_DER = {
    name: bytes(cms.KeyEncryptionAlgorithm({"algorithm": name}).dump())
    for name in ("rsaes_pkcs1v15", "rsaes_oaep")
}


_CIPHER_OID_DER = {c: bytes(cms.EncryptionAlgorithmId(c.value).dump()) for c in ContentCipher}


def _content_alg_der(cipher: ContentCipher, iv: bytes) -> bytes:
    return tlv(0x30, _CIPHER_OID_DER[cipher] + tlv(0x04, iv))


def decrypt(der: bytes, *, certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> Envelope:
    """Open ContentInfo(EnvelopedData) with the RecipientInfo that names `certificate`."""
    asn1.register()
    try:
        enveloped = _enveloped_data(der)
        recipient = _recipient_for(enveloped["recipient_infos"], certificate)
        eci = enveloped["encrypted_content_info"]
        cipher_name = eci["content_encryption_algorithm"]["algorithm"].native
        iv = eci["content_encryption_algorithm"]["parameters"].native
        encrypted = eci["encrypted_content"].native
        transport = recipient["key_encryption_algorithm"]["algorithm"].native
        encrypted_key = recipient["encrypted_key"].native
    except (DecodeError, DecryptError):
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise DecodeError(f"not a DER CMS EnvelopedData: {exc}") from exc

    try:
        cipher = ContentCipher(cipher_name)
    except ValueError as exc:
        raise UnsupportedAlgorithm(f"content cipher {cipher_name} is not supported") from exc
    if transport == "rsaes_pkcs1v15":
        pad: asym_padding.AsymmetricPadding = asym_padding.PKCS1v15()
    elif transport == "rsaes_oaep":
        pad = asym_padding.OAEP(asym_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    else:
        raise UnsupportedAlgorithm(f"key transport {transport} is not supported")
    if not isinstance(iv, bytes) or len(iv) * 8 != _block_bits(cipher):
        raise DecodeError("content-encryption IV is missing or of the wrong size")
    if (
        not isinstance(encrypted, bytes)
        or not encrypted
        or len(encrypted) * 8 % _block_bits(cipher)
    ):
        raise DecryptError("encrypted content is empty or not a whole number of blocks")

    try:
        cek = key.decrypt(encrypted_key, pad)
    except ValueError as exc:
        raise DecryptError("the content-encryption key does not decrypt with our key") from exc
    if len(cek) != _KEY_SIZES[cipher]:
        raise DecryptError("the content-encryption key has the wrong length")
    dec = Cipher(_algorithm(cipher, cek), modes.CBC(iv)).decryptor()
    padded = dec.update(encrypted) + dec.finalize()
    unpadder = padding.PKCS7(_block_bits(cipher)).unpadder()
    try:
        content = unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise DecryptError("bad padding after decryption") from exc
    return Envelope(content=content, cipher=cipher, key_transport=transport)


def _recipient_for(
    infos: cms.RecipientInfos, certificate: x509.Certificate
) -> cms.KeyTransRecipientInfo:
    issuer_der, _, serial = issuer_and_serial(certificate)
    for info in infos:
        if info.name != "ktri":
            continue
        rid = info.chosen["rid"]
        if rid.name == "issuer_and_serial_number":
            ias = rid.chosen
            if ias["serial_number"].native != serial:
                continue
            issuer = ias["issuer"]
            if issuer.dump() == issuer_der or issuer == to_asn1_cert(certificate).issuer:
                return info.chosen
        elif rid.chosen.native == to_asn1_cert(certificate).key_identifier:
            return info.chosen
    raise DecryptError("no RecipientInfo names our certificate (wrong recipient)")
