"""How PKIOperation arrives: GET in either base64 alphabet, escaped or not; POST with any type."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from shared.scep import ContentCipher, Digest, PkiStatus
from tests.api.ndes_plugin.conftest import MSCEP, Ndes, StartNdes
from tests.api.ndes_plugin.helpers import b64, build, read


@pytest.fixture
async def open_ndes(start_ndes: StartNdes) -> AsyncIterator[Ndes]:
    """EnforcePassword = 0: these tests are about the transport, not the password."""
    async with start_ndes(policy="none") as ndes:
        yield ndes


def _standard(der: bytes) -> str:
    return quote(b64(der), safe="")


def _url_safe(der: bytes) -> str:  # micromdm's scepclient
    return quote(base64.urlsafe_b64encode(der).decode(), safe="")


def _raw_plus(der: bytes) -> str:  # '+' and '/' left unescaped: form decoding would see spaces
    text = b64(der)
    assert "+" in text
    return text.replace("=", "%3D")


def _wrapped(der: bytes) -> str:  # 64-column lines, newlines percent-encoded
    text = b64(der)
    return "%0A".join(quote(text[i : i + 64], safe="") for i in range(0, len(text), 64)) + "%0A"


def _unpadded(der: bytes) -> str:
    return quote(b64(der).rstrip("="), safe="")


def _spaces(der: bytes) -> str:  # a '+' that a proxy already turned into a space
    return quote(b64(der).replace("+", " "), safe="")


@pytest.mark.parametrize("encode", [_standard, _url_safe, _raw_plus, _wrapped, _unpadded, _spaces])
async def test_get_pki_operation(open_ndes: Ndes, encode: object) -> None:
    assert callable(encode)
    device = open_ndes.device(0, "get")
    sent = open_ndes.request(device, device.csr("get"))
    response = await open_ndes.get_message(encode(sent.der), path=f"{MSCEP}/pkiclient.exe")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pki-message"
    assert read(response.content, sent, open_ndes.ca_certs).status is PkiStatus.SUCCESS


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-pki-message",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8",
        None,
    ],
)
async def test_post_pki_operation_whatever_the_content_type(
    open_ndes: Ndes, content_type: str | None
) -> None:
    device = open_ndes.device(0, "post")
    sent = open_ndes.request(device, device.csr("post"))
    response = await open_ndes.post(sent.der, content_type)
    assert response.status_code == 200
    assert read(response.content, sent, open_ndes.ca_certs).status is PkiStatus.SUCCESS


async def test_envelope_for_every_getcacert_certificate_like_scepclient(open_ndes: Ndes) -> None:
    device = open_ndes.device(0, "all")
    sent = build(
        device,
        device.csr("all"),
        open_ndes.ca_certs,
        digest=Digest.SHA1,
        cipher=ContentCipher.DES_EDE3_CBC,
    )
    assert (await open_ndes.send(sent)).status is PkiStatus.SUCCESS


async def test_reply_cipher_follows_the_allowed_list(start_ndes: StartNdes) -> None:
    async with start_ndes(policy="none", reply_ciphers="aes256_cbc") as ndes:
        device = ndes.device(0, "cipher")
        sent = ndes.request(device, device.csr("cipher"), cipher=ContentCipher.DES_EDE3_CBC)
        response = await ndes.post(sent.der)
        from shared.scep import envelope
        from shared.scep.message import parse_message

        message = parse_message(response.content, extra_certs=ndes.ca_certs)
        assert message.envelope is not None
        opened = envelope.decrypt(message.envelope, certificate=device.signer, key=device.key)
        assert opened.cipher is ContentCipher.AES_256_CBC
