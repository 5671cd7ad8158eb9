"""The management area's errors, one root, each carrying Graph's error code and HTTP status:

ManagementError
├── InvalidRequest     400 BadRequest         (malformed or inconsistent input; no change made)
└── NotFound           404 ResourceNotFound   (no such id in the caller's tenant)
"""

from __future__ import annotations


class ManagementError(Exception):
    status = 500
    code = "InternalError"


class InvalidRequest(ManagementError):
    status = 400
    code = "BadRequest"


class NotFound(ManagementError):
    status = 404
    code = "ResourceNotFound"

    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"{kind} with id '{resource_id}' was not found")
        self.kind = kind
        self.resource_id = resource_id
