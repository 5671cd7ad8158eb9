"""NDES's own one-time passwords (EnforcePassword = 1, no Intune module): the legacy workflow.

What NDES does (ndes-scep.md, "mscep_admin page", MSCEP registry): a password is PasswordLength
random bytes shown as upper-case hex (8 → 16 characters), single use, valid PasswordValidity
minutes, and at most PasswordMax unused ones are cached — then the admin page says "The password
cache is full." The cache lives in memory: restarting NDES (IIS) clears it, as here.

The password is checked, and nothing else: it is not bound to a device, a subject or a key usage.
That is the weakness the Intune module closes; this module keeps it on purpose.

Renewals (the request is signed by a certificate our CA issued, which NDES has checked is in
date) need no password, but must ask for the subject of that certificate: whether NDES itself
insists is unverified [?]; without it, any certificate from the CA would buy any other subject.

When is a password used up? KB959193 says it is removed once the CA issued. Whether a refused
enrolment burns it is unknown [?], so it is a setting, `consume_on_failure` (default False: a
request the CA fails or denies gives the password back). A request the CA holds as pending uses
the password up (the CA has accepted it; the device now polls without one). Between
`verify_request` and `notify` the password is reserved for that transaction, so two concurrent
requests cannot both spend it. Passwords are kept as SHA-256 digests and never logged.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from shared.clock import Clock
from shared.pki import CsrError, inspect_csr
from shared.scep import FailInfo

from .errors import PasswordCacheFull, PolicyRejected
from .hresult import HResult
from .logs import get_logger
from .policy import X509SCEPDisposition

log = get_logger(__name__)


@dataclass
class _Entry:
    expires_at: datetime
    reserved_by: str | None = None


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode("utf-8")).digest()


class OneTimePasswordPolicy:
    def __init__(
        self,
        clock: Clock,
        *,
        max_cached: int = 5,
        validity: timedelta = timedelta(minutes=60),
        length: int = 8,
        consume_on_failure: bool = False,
    ) -> None:
        if max_cached < 1 or length < 1 or validity <= timedelta(0):
            raise ValueError("max_cached, length and validity must be positive")
        self._clock = clock
        self._max = max_cached
        self._validity = validity
        self._length = length
        self._consume_on_failure = consume_on_failure
        self._unused: dict[bytes, _Entry] = {}
        self._used: dict[bytes, datetime] = {}  # digest -> when it would have expired

    @property
    def cached(self) -> int:
        """Unused passwords in the cache (reserved ones included), after dropping expired ones."""
        self._purge()
        return len(self._unused)

    async def initialize(self) -> None:
        self._unused.clear()
        self._used.clear()

    async def uninitialize(self) -> None:
        self._unused.clear()
        self._used.clear()

    def generate_challenge(self, template: str, params: str) -> str:
        self._purge()
        if len(self._unused) >= self._max:
            raise PasswordCacheFull(f"{len(self._unused)} unused passwords are cached")
        password = secrets.token_bytes(self._length).hex().upper()
        self._unused[_digest(password)] = _Entry(self._clock.now() + self._validity)
        log.info("handed out a one-time password (%d unused cached)", len(self._unused))
        return password

    async def verify_request(
        self,
        csr_der: bytes,
        signer_cert_der: bytes | None,
        template: str,
        transaction_id: str,
    ) -> bool:
        try:
            info = inspect_csr(csr_der)
        except CsrError as exc:
            raise PolicyRejected(str(exc), HResult.E_INVALIDARG, FailInfo.BAD_REQUEST) from exc
        if signer_cert_der is not None:
            if x509.load_der_x509_certificate(signer_cert_der).subject != info.subject:
                raise PolicyRejected(
                    "a renewal must ask for the subject of the certificate that signs it",
                    HResult.CERTSRV_E_BAD_REQUESTSUBJECT,
                    FailInfo.BAD_REQUEST,
                )
            log.info("renewal signed by a certificate from our CA: no password needed")
            return True
        challenge = info.challenge_password
        if not challenge:
            raise PolicyRejected(
                "a challenge password is required and the CSR has none",
                HResult.TRUST_E_CERT_SIGNATURE,
            )
        self._purge()
        key = _digest(challenge)
        entry = self._unused.get(key)
        if entry is None:
            if key in self._used:
                raise PolicyRejected(
                    "the challenge password was already used", HResult.CERT_E_WRONG_USAGE
                )
            raise PolicyRejected(
                "the challenge password is unknown or expired", HResult.ERROR_NOT_FOUND
            )
        if entry.reserved_by not in (None, transaction_id):
            raise PolicyRejected(
                "the challenge password is being used by another request",
                HResult.CERT_E_WRONG_USAGE,
            )
        entry.reserved_by = transaction_id
        return True

    async def notify(
        self,
        challenge: str | None,
        transaction_id: str,
        disposition: X509SCEPDisposition,
        hresult: int,
        issued_cert_der: bytes | None,
    ) -> None:
        if not challenge:
            return
        key = _digest(challenge)
        entry = self._unused.get(key)
        if entry is None or entry.reserved_by != transaction_id:
            return
        consume = disposition in (X509SCEPDisposition.SUCCESS, X509SCEPDisposition.PENDING) or (
            disposition is X509SCEPDisposition.FAILURE and self._consume_on_failure
        )
        if consume:
            del self._unused[key]
            self._used[key] = entry.expires_at
            log.info("one-time password used up (%s)", disposition.name)
        else:
            entry.reserved_by = None
            log.info("one-time password released (%s, 0x%08X)", disposition.name, hresult)

    def _purge(self) -> None:
        now = self._clock.now()
        self._unused = {k: e for k, e in self._unused.items() if e.expires_at > now}
        self._used = {k: t for k, t in self._used.items() if t > now}
