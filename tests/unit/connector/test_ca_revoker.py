"""`HttpCaRevoker`: what it sends to the CA, and the verdict for each answer the CA can give
(the CA faked with httpx.MockTransport; the real ca_sim is in tests/api/connector/test_agents)."""

from __future__ import annotations

import json

import httpx
import pytest

from connector.ca import HttpCaRevoker
from shared.api.intune import RevocationErrorCode as Code

TOKEN = "the-ca-admin-token"


def answer(status: int, body: object) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def result(revoked: bool, hresult: int, message: str) -> dict[str, object]:
    return {"serialNumber": "0a1b", "revoked": revoked, "hresult": hresult, "message": message}


async def verdict_for(transport: httpx.AsyncBaseTransport) -> tuple[Code, str]:
    revoker = HttpCaRevoker("http://ca.test", TOKEN, transport)
    try:
        verdict = await revoker.revoke("0a1b")
    finally:
        await revoker.aclose()
    assert TOKEN not in verdict.message
    return verdict.code, verdict.message


async def test_it_asks_for_cessation_of_operation_with_the_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=result(True, 0, "certificate 0a1b revoked"))

    code, _ = await verdict_for(httpx.MockTransport(handler))
    [request] = seen
    assert code is Code.NONE
    assert (request.method, str(request.url)) == ("POST", "http://ca.test/ca/revoke")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {"serialNumber": "0a1b", "reason": 5}


@pytest.mark.parametrize(
    ("status", "body", "code", "says"),
    [
        (200, result(True, 0, "certificate 0a1b revoked"), Code.NONE, "revoked"),
        (200, result(False, 0x80092010, "already revoked"), Code.CONFLICT_ERROR, "0x80092010"),
        (200, result(False, 0x80070002, "no such"), Code.CERTIFICATE_NOT_FOUND_ERROR, "no such"),
        (200, result(False, 0x80094003, "on hold"), Code.NON_RETRYABLE_SERVICE_EXCEPTION, "hold"),
        (200, {"unexpected": True}, Code.DATA_SERIALIZATION_ERROR, "RevokeResult"),
        (400, {"detail": "serial 'zz' is not hex"}, Code.NON_RETRYABLE_SERVICE_EXCEPTION, "'zz'"),
        (401, {"detail": "needs the admin token"}, Code.AUTHENTICATION_EXCEPTION, "401"),
        (403, {"detail": "not the CA's token"}, Code.AUTHENTICATION_EXCEPTION, "not the CA's"),
        (429, {"detail": "slow down"}, Code.SERVICE_TOO_BUSY_EXCEPTION, "slow down"),
        (500, {"detail": "database locked"}, Code.SERVICE_UNAVAILABLE_EXCEPTION, "locked"),
        (503, "maintenance", Code.SERVICE_UNAVAILABLE_EXCEPTION, "503"),
    ],
)
async def test_each_answer_has_its_verdict(
    status: int, body: object, code: Code, says: str
) -> None:
    got, message = await verdict_for(answer(status, body))
    assert got is code
    assert says in message


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_an_unreachable_ca_is_retryable(error: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    code, message = await verdict_for(httpx.MockTransport(handler))
    assert code is Code.SERVICE_UNAVAILABLE_EXCEPTION and code.retryable
    assert type(error).__name__ in message


def test_codes_go_on_the_wire_as_the_csharp_names() -> None:
    assert [
        c.wire_name for c in (Code.NONE, Code.CONFLICT_ERROR, Code.AUTHENTICATION_EXCEPTION)
    ] == [
        "None",
        "ConflictError",
        "AuthenticationException",
    ]
    assert [c for c in Code if c.retryable] == [
        Code.RETRYABLE_SERVICE_EXCEPTION,
        Code.SERVICE_UNAVAILABLE_EXCEPTION,
        Code.SERVICE_TOO_BUSY_EXCEPTION,
        Code.AUTHENTICATION_EXCEPTION,
    ]


def test_the_token_is_not_in_the_revokers_repr() -> None:
    assert TOKEN not in repr(HttpCaRevoker("http://ca.test", TOKEN))
