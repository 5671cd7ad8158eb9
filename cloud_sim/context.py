"""What every request handler of the cloud can reach: settings, clock, database sessions, the
lab PKI. Built once in the app's lifespan and kept on `app.state.cloud`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.clock import Clock
from shared.pki import LabPki

from .faults import FaultBoard
from .settings import CloudSettings


@dataclass(frozen=True)
class CloudContext:
    settings: CloudSettings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pki: LabPki
    faults: FaultBoard = field(default_factory=FaultBoard)
