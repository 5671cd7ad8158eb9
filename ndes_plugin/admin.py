"""/certsrv/mscep_admin/: NDES's challenge-password page, behind HTTP Basic.

Real NDES uses Windows-integrated authentication (Basic optional); the lab uses Basic with
`admin_user` / `admin_password`. Every outcome a logged-in user can see is HTTP 200 HTML
(UTF-16LE, see `pages`): a new password on each visit, "The password cache is full.", or — with
EnforcePassword = 0 (policy "none") — a page saying no password is needed (our wording).
A missing or wrong credential gets 401 with `WWW-Authenticate: Basic`.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from fastapi import APIRouter, Request, Response

from .errors import ChallengeNotSupported, PasswordCacheFull
from .logs import get_logger
from .pages import cache_full_page, no_password_page, password_page
from .runtime import runtime_of
from .settings import NdesSettings

log = get_logger(__name__)

router = APIRouter()

_UNAUTHORIZED = "401 - Unauthorized: Access is denied due to invalid credentials."


def _authorised(header: str | None, settings: NdesSettings) -> bool:
    if not header:
        return False
    scheme, _, encoded = header.partition(" ")
    if scheme.casefold() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return False
    expected_password = settings.admin_password.get_secret_value().encode("utf-8")
    expected_user = settings.admin_user.get_secret_value().encode("utf-8")
    user_ok = secrets.compare_digest(user, expected_user)
    password_ok = secrets.compare_digest(password, expected_password)
    return bool(sep) and bool(expected_password) and user_ok and password_ok


@router.get("/certsrv/mscep_admin/", include_in_schema=False)
@router.get("/certsrv/mscep_admin/mscep.dll", include_in_schema=False)
async def admin_page(request: Request) -> Response:
    runtime = runtime_of(request)
    settings = runtime.settings
    if not _authorised(request.headers.get("authorization"), settings):
        log.info("mscep_admin: 401 for %s", request.client.host if request.client else "?")
        return Response(
            _UNAUTHORIZED,
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="NDES"', "content-type": "text/plain"},
        )
    service = runtime.service
    ca_cert = service.ra.chain.issuing
    try:
        password = service.admin_challenge()
    except PasswordCacheFull:
        log.info("mscep_admin: the password cache is full")
        body = cache_full_page(settings.password_validity_minutes, settings.password_max)
    except ChallengeNotSupported:
        body = no_password_page(ca_cert)
    else:
        body = password_page(ca_cert, password, settings.password_validity_minutes)
    return Response(body, headers={"content-type": "text/html", "cache-control": "no-store"})
