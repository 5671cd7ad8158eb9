"""NDES's exceptions, one root for the package.

NdesError
├── MalformedRequest          no transactionID readable: HTTP 400, nothing to sign a reply with
├── RaUnavailable             RA keys or certificates missing, unusable, or expired (start-up; 500)
├── CaError                   the CA could not be asked, or answered outside its contract
│   └── CaUnavailable         unreachable, timed out, 5xx: FAILURE with RPC_S_SERVER_UNAVAILABLE
└── PolicyError               raised by a policy module (INDESPolicy method failing)
    ├── PolicyRejected        VerifyRequest said no, with an HRESULT and a failInfo
    ├── PasswordCacheFull     the one-time password cache holds PasswordMax unused passwords
    └── ChallengeNotSupported the module hands out no challenge passwords (EnforcePassword = 0)

SCEP-level refusals never leave the service as exceptions: they become signed CertRep FAILUREs.
"""

from __future__ import annotations

from shared.scep import FailInfo

from .hresult import HResult


class NdesError(Exception):
    """Root of the NDES party's errors."""


class MalformedRequest(NdesError):
    """A PKIOperation that cannot be answered with a CertRep (HTTP 400)."""


class RaUnavailable(NdesError):
    """NDES cannot serve without its RA certificates (start-up error, or HTTP 500 as NDES)."""


class CaError(NdesError):
    """The CA could not be asked or answered outside its contract."""

    def __init__(self, message: str, hresult: int = HResult.E_FAIL) -> None:
        super().__init__(message)
        self.hresult = hresult


class CaUnavailable(CaError):
    def __init__(self, message: str) -> None:
        super().__init__(message, HResult.RPC_S_SERVER_UNAVAILABLE)


class PolicyError(NdesError):
    """A policy module failed; NDES answers the device with a FAILURE."""


class PolicyRejected(PolicyError):
    """VerifyRequest refused the request for a reason the device should see as an HRESULT."""

    def __init__(
        self,
        message: str,
        hresult: int,
        fail_info: FailInfo = FailInfo.BAD_MESSAGE_CHECK,
    ) -> None:
        super().__init__(message)
        self.hresult = hresult
        self.fail_info = fail_info


class PasswordCacheFull(PolicyError):
    """PasswordMax unused passwords are cached: the admin page says so and hands out none."""


class ChallengeNotSupported(PolicyError):
    """The policy module hands out no challenge passwords."""
