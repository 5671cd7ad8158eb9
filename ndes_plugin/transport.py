"""mscep.dll over HTTP: the only module that knows query strings, bodies and content types.

Paths: /certsrv/mscep/mscep.dll and …/mscep.dll/pkiclient.exe (Windows appends it), in any case
(see `paths.CaseInsensitivePaths`). `operation` and `message` are matched case-insensitively.
- GetCACaps → text/plain, the configured keywords, CRLF.
- GetCACert → application/x-x509-ca-ra-cert: RA signing, RA encryption, issuing CA, root.
- GetNextCACert → application/x-x509-next-ca-cert when a rollover certificate is configured.
- PKIOperation → GET with `message=` (standard or URL-safe base64, percent-encoded or not: a raw
  `+`, spaces, %0A and missing padding are tolerated) or POST with the DER body, whatever its
  content type. Reply: application/x-pki-message, HTTP 200, even for a FAILURE.
- No operation: the NDES information page (200), or 403 when the Intune module is installed.
Unknown operation 404; unreadable message 400; body over max_body 413; query over max_query 414;
RA certificates out of date 500 (as NDES).
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote, unquote_plus

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from shared import scep

from .errors import MalformedRequest, RaUnavailable
from .logs import get_logger
from .pages import info_page
from .runtime import NdesRuntime, runtime_of

log = get_logger(__name__)

MSCEP_PATH = "/certsrv/mscep/mscep.dll"
PKICLIENT_PATH = "/certsrv/mscep/mscep.dll/pkiclient.exe"
ADMIN_PATH = "/certsrv/mscep_admin/"

router = APIRouter()


class _BodyTooLarge(Exception):
    pass


def parse_query(raw: bytes) -> dict[str, str]:
    """Parameter names (case-folded) → raw, still percent-encoded values; first one wins."""
    params: dict[str, str] = {}
    for part in raw.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        key = unquote_plus(name).strip().casefold()
        if key and key not in params:
            params[key] = value
    return params


def decode_message(raw: str) -> bytes:
    """A GET PKIOperation's `message`: base64 in either alphabet, however (un)escaped."""
    text = unquote(raw)  # not unquote_plus: a raw '+' is base64, not a space
    text = text.replace(" ", "+")  # a '+' that something already form-decoded into a space
    text = "".join(text.split())  # %0A, CRLF and tabs that line-wrapping encoders put in
    text = text.replace("-", "+").replace("_", "/").rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest(f"message is not base64: {exc}") from exc


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status)


@router.api_route(MSCEP_PATH, methods=["GET", "POST"], include_in_schema=False)
@router.api_route(PKICLIENT_PATH, methods=["GET", "POST"], include_in_schema=False)
async def mscep(request: Request) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    raw_query = request.scope.get("query_string", b"")
    if len(raw_query) > settings.max_query:
        return _text(414, "414 - Request-URI Too Long")
    params = parse_query(raw_query)
    if "operation" not in params:
        if request.method != "GET":
            return _text(404, "404 - operation missing")
        if settings.intune_module_installed:
            return _text(403, "403 - Forbidden: Access is denied.")
        admin_url = str(request.base_url).rstrip("/") + "/CertSrv/mscep_admin"
        return Response(info_page(admin_url), headers={"content-type": "text/html"})
    operation = unquote_plus(params["operation"]).strip().casefold()
    try:
        runtime.service.check_ra()
        return await _operation(request, runtime, operation, params)
    except RaUnavailable as exc:
        log.error("%s", exc)
        return _text(500, "500 - Internal server error.")


async def _operation(
    request: Request, runtime: NdesRuntime, operation: str, params: dict[str, str]
) -> Response:
    service = runtime.service
    if operation == "getcacaps":
        caps = scep.build_caps(runtime.settings.caps).encode("ascii")
        return Response(caps, headers={"content-type": "text/plain"})
    if operation == "getcacert":
        return Response(service.ca_ra_certs(), headers={"content-type": scep.CA_RA_CERT})
    if operation == "getnextcacert":
        next_ca = service.next_ca_cert()
        if next_ca is None:
            return _text(404, "404 - GetNextCACert: no rollover certificate")
        return Response(next_ca, headers={"content-type": scep.NEXT_CA_CERT})
    if operation != "pkioperation":
        return _text(404, f"404 - unknown operation {operation!r}")
    try:
        if request.method == "POST":
            der = await _read_body(request, runtime.settings.max_body)
        elif "message" in params:
            der = decode_message(params["message"])
        else:
            raise MalformedRequest("PKIOperation by GET needs a message parameter")
        if not der:
            raise MalformedRequest("PKIOperation with an empty message")
        reply = await service.pki_operation(der)
    except _BodyTooLarge:
        return _text(413, f"413 - the request body is larger than {runtime.settings.max_body}")
    except MalformedRequest as exc:
        log.info("400: %s", exc)
        return _text(400, f"400 - Bad Request: {exc}")
    return Response(reply, headers={"content-type": scep.PKI_MESSAGE})
