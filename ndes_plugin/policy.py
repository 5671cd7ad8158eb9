"""The policy module port, shaped like Windows' INDESPolicy (certpol.h), and the no-password one.

NDES loads exactly one module (registry `MSCEP\\Modules\\Policy`) and calls it:
- `initialize()` / `uninitialize()` when the service starts and stops;
- `generate_challenge(template, params)` to hand out a challenge password (the admin page);
- `verify_request(csr, signer, template, transaction_id)` before it submits to the CA. `signer` is
  the DER certificate that signed a renewal (RenewalReq, or a Windows-style PKCSReq signed by a
  certificate from our CA): NDES has already checked it was issued by the CA and is in date.
  It is None on an initial enrolment. The module reads the challenge from the CSR itself.
- `notify(challenge, transaction_id, disposition, hresult, issued_cert)` once the CA answered —
  and whenever a request that passed `verify_request` ends, so a module may hold state between
  the two calls.

Differences from the COM interface: the lifecycle methods and the two request-path methods are
coroutines (a module may do I/O: the Intune module calls the connector); a refusal may raise
`PolicyRejected` with an HRESULT instead of returning False (as a COM method returns a failing
HRESULT); `generate_challenge` raises `ChallengeNotSupported` or `PasswordCacheFull`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol

from .errors import ChallengeNotSupported


class X509SCEPDisposition(IntEnum):
    """certenroll's X509SCEPDisposition, as passed to INDESPolicy::Notify."""

    UNKNOWN = -1
    SUCCESS = 0
    FAILURE = 2
    PENDING = 3
    PENDING_CHALLENGE = 11


class PolicyModule(Protocol):
    async def initialize(self) -> None: ...

    async def uninitialize(self) -> None: ...

    def generate_challenge(self, template: str, params: str) -> str:
        """A new challenge password. Raises `ChallengeNotSupported` or `PasswordCacheFull`."""
        ...

    async def verify_request(
        self,
        csr_der: bytes,
        signer_cert_der: bytes | None,
        template: str,
        transaction_id: str,
    ) -> bool:
        """True to let NDES submit the request; False or `PolicyRejected` to refuse it."""
        ...

    async def notify(
        self,
        challenge: str | None,
        transaction_id: str,
        disposition: X509SCEPDisposition,
        hresult: int,
        issued_cert_der: bytes | None,
    ) -> None: ...


class NoPasswordPolicy:
    """EnforcePassword = 0: every request NDES could decode goes to the CA."""

    async def initialize(self) -> None:
        return None

    async def uninitialize(self) -> None:
        return None

    def generate_challenge(self, template: str, params: str) -> str:
        raise ChallengeNotSupported("EnforcePassword is 0: no challenge password is needed")

    async def verify_request(
        self,
        csr_der: bytes,
        signer_cert_der: bytes | None,
        template: str,
        transaction_id: str,
    ) -> bool:
        return True

    async def notify(
        self,
        challenge: str | None,
        transaction_id: str,
        disposition: X509SCEPDisposition,
        hresult: int,
        issued_cert_der: bytes | None,
    ) -> None:
        return None
