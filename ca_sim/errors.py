"""The CA's exceptions.

CaError
├── CaConfigError     the CA's key or certificate files are missing or do not belong together
├── MalformedInput    input the CA cannot even record (bad serial syntax, ...) → HTTP 400
├── Unauthenticated   no credentials, and nothing in the request names a requester → HTTP 401
├── NotFound          no such request → HTTP 404
├── BadRequestStatus  the request's status does not allow the operation → HTTP 409
└── SerialTaken       the store already holds a certificate with that serial (retry with another)

A refused certificate request is not an exception at the HTTP boundary: it is recorded with its
disposition and HRESULT and answered as a `RequestResult`, as AD CS does.
"""

from __future__ import annotations

from .hresult import Hresult


class CaError(Exception):
    """Root of the CA's errors."""


class CaConfigError(CaError):
    """The CA cannot start: its PKI files are missing, unreadable or inconsistent."""


class MalformedInput(CaError):
    """Input too broken to record; the message says what was wrong."""


class Unauthenticated(CaError):
    """The caller presented no credentials and the request does not identify a requester."""


class NotFound(CaError):
    pass


class BadRequestStatus(CaError):
    hresult = Hresult.CERTSRV_E_BAD_REQUESTSTATUS


class SerialTaken(CaError):
    """A certificate with this serial number is already in the CA database."""
