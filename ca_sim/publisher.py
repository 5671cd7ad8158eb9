"""Publishing CRLs: the issuing CA's (its revocations) and the offline root's (empty).

A CRL is made when none exists, when it is due (less than a third of its validity left, by the
injected clock: checked lazily on download), and at once after every revocation. The store
replaces the current CRL compare-and-set on its number, so concurrent publishers never hand out
two CRLs with one number, and a forced publish always covers revocations committed before it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum

from shared.clock import Clock

from .authority import Authority
from .crl import CrlInfo, RevokedEntry, build_crl, is_due
from .errors import CaError
from .records import CaStore

logger = logging.getLogger(__name__)

PUBLISH_ATTEMPTS = 8


class CaName(StrEnum):
    ISSUING = "issuing"
    ROOT = "root"


class CrlPublisher:
    def __init__(
        self,
        store: CaStore,
        authority: Authority,
        clock: Clock,
        *,
        crl_validity: timedelta,
        root_crl_validity: timedelta,
    ) -> None:
        self._store = store
        self._authority = authority
        self._clock = clock
        self._validity = {CaName.ISSUING: crl_validity, CaName.ROOT: root_crl_validity}

    async def current(self, ca: CaName) -> CrlInfo:
        """The CA's CRL, made anew when there is none or it is due."""
        crl = await self._store.get_crl(ca)
        if crl is not None and not is_due(crl, self._clock.now()):
            return crl
        return await self.publish(ca, force=False)

    async def publish(self, ca: CaName, *, force: bool) -> CrlInfo:
        """Make and store the next CRL. Without `force`, one another writer published
        meanwhile is good enough if it is not due."""
        if ca is CaName.ISSUING:
            issuer_cert, issuer_key = self._authority.issuing_cert, self._authority.issuing_key
        else:
            issuer_cert, issuer_key = self._authority.root_cert, self._authority.root_key
        current = await self._store.get_crl(ca)
        for _ in range(PUBLISH_ATTEMPTS):
            now = self._clock.now()
            entries = [] if ca is CaName.ROOT else await self._revoked_entries(now)
            crl = build_crl(
                issuer_cert=issuer_cert,
                issuer_key=issuer_key,
                entries=entries,
                number=1 if current is None else current.number + 1,
                now=now,
                validity=self._validity[ca],
            )
            previous = None if current is None else current.number
            if await self._store.save_crl(ca, crl, previous=previous):
                logger.info("published the %s CRL #%d (%d entries)", ca, crl.number, len(entries))
                return crl
            current = await self._store.get_crl(ca)
            if current is not None and not force and not is_due(current, now):
                return current
        raise CaError(f"could not publish the {ca} CRL: too many concurrent publishers")

    async def _revoked_entries(self, now: datetime) -> list[RevokedEntry]:
        return [
            RevokedEntry(int(cert.serial, 16), cert.revoked_at, cert.reason)
            for cert in await self._store.revoked_certificates(now)
            if cert.revoked_at is not None and cert.reason is not None
        ]
