"""Each party's virtual clock over its lab API: `GET /lab/clock` and `PUT /lab/clock`
`{"offsetSeconds": N}`. PUT sets the offset to N unless it is already ahead (the lab's clock never
goes back), so that `scep-lab clock advance` can give every party the cloud's new offset: parties
that share one clock (`scep-lab up`) are set to what they already have, parties in their own
processes or containers catch up. The app keeps its clock in `app.state.clock`; the routes go on a
router that already carries the party's lab credential."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from .clock import Clock, OffsetClock

MAX_OFFSET = 20 * 365 * 86400


class ClockSet(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    offset_seconds: float = Field(alias="offsetSeconds", ge=0, le=MAX_OFFSET)


def clock_json(clock: Clock) -> dict[str, object]:
    offset = getattr(clock, "offset", None)
    return {
        "now": clock.now().isoformat(),
        "offsetSeconds": offset.total_seconds() if offset is not None else None,
        "movable": isinstance(clock, OffsetClock),
    }


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def add_clock_routes(router: APIRouter) -> None:
    @router.get("/clock")
    async def read_clock(request: Request) -> dict[str, object]:
        """This party's clock."""
        return clock_json(_clock(request))

    @router.put("/clock")
    async def set_clock(body: ClockSet, request: Request) -> dict[str, object]:
        """Move this party's clock to `offsetSeconds` ahead of real time (never back); 409 when
        it runs on the system clock."""
        clock = _clock(request)
        if not isinstance(clock, OffsetClock):
            raise HTTPException(409, "this party runs on the system clock: it cannot be moved")
        clock.advance_to(dt.timedelta(seconds=body.offset_seconds))
        return clock_json(clock)
