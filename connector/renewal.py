"""Identity renewal: the connector renews its identity certificate before it expires
(intune-api.md §3.2: the real connector renews its client-authentication certificate on its
own; lifetime and threshold are undocumented, so both are settings here).

Checked at start and every `identity_check_seconds`. Due when, by the injected clock, fewer than
`identity_renew_before_days` days are left, or less than a third of the certificate's lifetime,
whichever comes first. Renewal: a new RSA-2048 key, a CSR with the certificate's subject, the
cloud's `/connector/renew` over the current identity, the new pair written atomically where the
settings say, and the cloud client switched to it for every new connection. A failure keeps
the old key pair (nothing is written before the cloud answered) and is tried again at the next
check. Events: 10100 CertificateRenewal_Success, 10102 CertificateRenewal_Failure (the legacy
connector's IDs and names).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from cryptography import x509

from shared.clock import Clock
from shared.pki import CsrSpec, KeyFileError, KeySpec, build_csr, generate_key

from .cloud import CloudCallRejected, CloudClient, CloudError
from .identity import check_identity, write_settings_identity
from .periodic import Problem, repeat
from .settings import ConnectorSettings

logger = logging.getLogger(__name__)

RENEWAL_SUCCESS = 10100
RENEWAL_FAILURE = 10102
RENEWAL_KEY = KeySpec.rsa(2048)


def renewal_due(cert: x509.Certificate, now: dt.datetime, renew_before: dt.timedelta) -> bool:
    """Fewer than `renew_before` left, or less than a third of the lifetime."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    left = not_after - now
    return left < renew_before or left < (not_after - not_before) / 3


class IdentityRenewer:
    def __init__(self, settings: ConnectorSettings, cloud: CloudClient, clock: Clock) -> None:
        self._settings = settings
        self._cloud = cloud
        self._clock = clock
        self._lock = asyncio.Lock()
        self._reload_pending = False  # new files written, the cloud client not yet switched
        self.not_after: dt.datetime | None = None
        """The current identity certificate's expiry, as last read."""
        self.last_renewal: dt.datetime | None = None
        self.last_error: Problem | None = None
        """The latest check's error; None once a check passes (renewing or not)."""

    async def run_once(self) -> bool:
        """One check; True if the identity was renewed. A failure is logged and kept (the old
        identity stays in place), not raised. Checks never overlap."""
        async with self._lock:
            try:
                return await self._check()
            except (CloudError, KeyFileError, OSError) as exc:
                self._failed(str(exc))
                return False
            except Exception as exc:  # shown on /health, then logged by `repeat`
                self._failed(f"{type(exc).__name__}: {exc}")
                raise

    async def run_forever(self, stop: asyncio.Event, interval: float) -> None:
        await repeat(self.run_once, stop, interval, name="identity check")

    def health(self) -> dict[str, object]:
        return {
            "notAfter": None if self.not_after is None else self.not_after.isoformat(),
            "lastRenewal": None if self.last_renewal is None else self.last_renewal.isoformat(),
            "lastError": None if self.last_error is None else self.last_error.as_json(),
        }

    async def _check(self) -> bool:
        settings = self._settings
        current = check_identity(settings)
        self.not_after = current.not_valid_after_utc
        if self._reload_pending:
            await self._reload()
        renew_before = dt.timedelta(days=settings.identity_renew_before_days)
        if not renewal_due(current, self._clock.now(), renew_before):
            self.last_error = None
            return False
        key = await asyncio.to_thread(generate_key, RENEWAL_KEY)  # CPU-bound: off the loop
        csr = build_csr(key, CsrSpec(subject=current.subject))
        identity = await self._cloud.renew(csr)
        if identity.certificate.public_key() != key.public_key():
            raise CloudCallRejected("the renewed certificate is not for the key that asked")
        write_settings_identity(settings, key, identity.certificate)
        self.not_after, self.last_renewal = identity.not_after, self._clock.now()
        self._reload_pending = True
        logger.info(
            "10100 CertificateRenewal_Success: identity certificate renewed: serial %x, until %s "
            "(was serial %x, until %s)",
            identity.certificate.serial_number,
            identity.not_after.isoformat(),
            current.serial_number,
            current.not_valid_after_utc.isoformat(),
            extra={"event_id": RENEWAL_SUCCESS},
        )
        await self._reload()
        self.last_error = None
        return True

    async def _reload(self) -> None:
        """Switch the cloud client to the files (the cloud accepts only the new certificate
        once it issued it: should this fail, the next check tries again first thing)."""
        await self._cloud.reload_identity(self._settings)
        self._reload_pending = False

    def _failed(self, message: str) -> None:
        self.last_error = Problem.of(self._clock.now(), message)
        logger.error(
            "10102 CertificateRenewal_Failure: the identity certificate was not renewed (%s); "
            "the current one stays in use, next try at the next check",
            message,
            extra={"event_id": RENEWAL_FAILURE},
        )
