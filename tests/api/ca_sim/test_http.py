"""What never reaches the CA database: malformed bodies (400), no credentials (401), a wrong
token (403), bodies over 64 KiB (413), unknown requests (404). None of them changes any state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography import x509

from shared.pki import PrivateKey

from .support import ADMIN, TOKEN, all_requests, b64, countersign, csr_der, submit


@pytest.fixture
async def unchanged(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """Asserts, after the test, that the CA database holds what it held before."""
    before = await all_requests(client)
    crl_before = (await client.get("/pki/issuing.crl")).content
    yield
    assert await all_requests(client) == before
    assert (await client.get("/pki/issuing.crl")).content == crl_before


def json_body(**fields: object) -> dict[str, object]:
    return {"request": b64(b"x"), "template": "IntuneDeviceCert", **fields}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is not json", "JSON"),
        (b'{"template": "IntuneDeviceCert"}', "request"),
        (b'{"request": "%%%not base64%%%", "template": "IntuneDeviceCert"}', "base64"),
        (b'{"request": "", "template": "IntuneDeviceCert"}', "empty"),
        (b'{"request": "MAA=", "template": ""}', "template"),
        (b'{"request": "MAA=", "template": "T", "transactionId": "' + b"t" * 300 + b'"}', "256"),
    ],
    ids=["not-json", "no-request", "not-base64", "empty", "no-template", "long-transaction"],
)
async def test_malformed_submissions_are_400(
    client: httpx.AsyncClient, content: bytes, words: str
) -> None:
    response = await client.post(
        "/ca/submit", content=content, headers={**ADMIN, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert words.lower() in detail.lower() or words == "256"


@pytest.mark.usefixtures("unchanged")
async def test_bodies_over_64_kib_are_413(client: httpx.AsyncClient) -> None:
    big = {"request": "A" * (64 * 1024), "template": "IntuneDeviceCert"}
    response = await client.post("/ca/submit", json=big, headers=ADMIN)
    assert response.status_code == 413
    assert "65536" in response.json()["detail"]


@pytest.mark.usefixtures("unchanged")
async def test_chunked_bodies_over_64_kib_are_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 4096

    response = await client.post("/ca/submit", content=chunks(), headers=ADMIN)
    assert response.status_code == 413


@pytest.mark.usefixtures("unchanged")
async def test_a_bare_pkcs10_without_the_token_is_401(
    client: httpx.AsyncClient, device_key: PrivateKey
) -> None:
    response = await submit(client, csr_der(device_key), "EnrollmentAgentOffline")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "admin token" in response.json()["detail"]


@pytest.mark.usefixtures("unchanged")
async def test_signed_data_without_its_signer_certificate_and_no_token_is_401(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    request = countersign(csr_der(device_key), *agent, include_certificate=False)
    response = await submit(client, request)
    assert response.status_code == 401
    assert "SignedData.certificates" in response.json()["detail"]


@pytest.mark.usefixtures("unchanged")
async def test_a_wrong_token_is_403_even_on_submit(
    client: httpx.AsyncClient, agent: tuple[x509.Certificate, PrivateKey], device_key: PrivateKey
) -> None:
    request = countersign(csr_der(device_key), *agent)
    response = await submit(client, request, token="not-the-token")
    assert response.status_code == 403


ADMIN_OPERATIONS = [
    ("GET", "/ca/requests", None),
    ("POST", "/ca/requests/1/approve", None),
    ("POST", "/ca/requests/1/deny", None),
    ("POST", "/ca/revoke", {"serialNumber": "01", "reason": 1}),
]


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwdw=="}, 401),
        ({"Authorization": "Bearer no"}, 403),
    ],
    ids=["none", "basic", "wrong"],
)
async def test_admin_operations_need_the_token(
    client: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    for method, path, body in ADMIN_OPERATIONS:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path)
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.usefixtures("unchanged")
async def test_unknown_requests_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ca/requests/999")).status_code == 404
    approve = await client.post("/ca/requests/999/approve", headers=ADMIN)
    assert approve.status_code == 404
    assert "999" in approve.json()["detail"]
    assert (await client.get("/pki/nosuch.crt")).status_code == 404


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("serial", ["zz", "", "0", "01:" * 20 + "01"])
async def test_malformed_serials_are_400(client: httpx.AsyncClient, serial: str) -> None:
    body = {"serialNumber": serial, "reason": 0}
    response = await client.post("/ca/revoke", json=body, headers=ADMIN)
    assert response.status_code == 400
    assert "serial" in response.json()["detail"]


@pytest.mark.usefixtures("unchanged")
async def test_unknown_revocation_reasons_are_400(client: httpx.AsyncClient) -> None:
    body = {"serialNumber": "01", "reason": 7}
    response = await client.post("/ca/revoke", json=body, headers=ADMIN)
    assert response.status_code == 400


async def test_the_token_is_never_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/ca/requests", headers={"Authorization": "Bearer nope"})
    assert "nope" not in response.text
    assert TOKEN not in (await client.get("/health")).text
