"""The domain's exceptions.

DomainError
├── ChallengeError       a challenge that cannot be opened; carries the Intune `ErrorCode`
└── ProfileError         a profile that cannot be resolved for a device (also a ValueError)
    ├── UnresolvedVariable   a {{Variable}} the device, user or platform cannot supply
    └── SubjectFormatError   a subject name string that does not parse

Messages never quote challenge plaintext: they name what was wrong (a field, a layer), not the
value. A validation *failure* is not an exception: `validate` returns a `Verdict` with its code.
"""

from __future__ import annotations

from .codes import ErrorCode


class DomainError(Exception):
    """Root of the cloud domain's errors."""


class ChallengeError(DomainError):
    """The challenge could not be opened; `code` is the Intune code to answer with."""

    def __init__(self, code: ErrorCode, reason: str = "") -> None:
        message = code.description if not reason else f"{code.description} ({reason})"
        super().__init__(message)
        self.code = code
        self.reason = reason


class ProfileError(DomainError, ValueError):
    """A profile setting that cannot be turned into what a device must request."""


class UnresolvedVariable(ProfileError):
    """`{{name}}` cannot be resolved: Intune fails the profile on such a device."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{{{{{name}}}}} cannot be resolved: {reason}")
        self.name = name
        self.reason = reason


class SubjectFormatError(ProfileError):
    """A subject name string that is not a distinguished name."""
