"""Lab-only routes (off with `CLOUD_LAB_API=false`): what a real tenant does not offer but a lab
user needs, such as a challenge on demand for testing any SCEP client or server by hand, and
faults to arm (`/lab/faults`, see `faults`). Each needs an Intune administrator's token."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from shared import trace
from shared.clock import OffsetClock

from .. import management as mgmt
from ..auth import AdminCaller
from ..challenges import NotScepProfile, issue_challenge
from ..context import CloudContext
from ..deps import Context, Session
from ..domain.errors import ProfileError
from ..faults import FaultPoint
from ..management import NotFound

router = APIRouter(prefix="/lab", tags=["Lab only"])


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    device_id: str = Field(alias="deviceId")
    profile_id: str = Field(alias="profileId")


@router.post("/challenge")
async def challenge(
    body: ChallengeRequest, caller: AdminCaller, session: Session, context: Context
) -> dict[str, object]:
    """A fresh challenge for the device and SCEP profile, with what the request must contain."""
    if not context.settings.lab_api:
        raise HTTPException(404, "the lab API is off")
    try:
        issued = await issue_challenge(
            session, context, caller.tenant_id, body.device_id, body.profile_id
        )
        device = await mgmt.get_device(session, caller.tenant_id, issued.device_id)
        profile = await mgmt.get_configuration(session, caller.tenant_id, issued.profile_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (NotScepProfile, ProfileError) as exc:
        raise HTTPException(400, str(exc)) from exc
    # as a check-in's: the trace names the device and the profile the challenge is for
    trace.annotate(
        device={"id": issued.device_id, "name": device.device_name},
        challenges=[
            {
                "profile_id": issued.profile_id,
                "profile_name": profile.display_name,
                "subject": issued.subject,
            }
        ],
    )
    return {
        "challenge": issued.challenge,
        "deviceId": issued.device_id,
        "profileId": issued.profile_id,
        "subject": issued.subject,
        **issued.request_json(),
    }


class FaultRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: int = Field(default=503, ge=500, le=599)
    times: int | None = Field(default=None, ge=1, description="None: until cleared")


def _lab_api(context: Context) -> None:
    if not context.settings.lab_api:
        raise HTTPException(404, "the lab API is off")


@router.get("/faults")
async def list_faults(_: AdminCaller, context: Context) -> dict[str, object]:
    _lab_api(context)
    armed = context.faults.armed()
    return {
        point.value: {"status": fault.status, "times": fault.remaining}
        for point, fault in armed.items()
    }


@router.put("/faults/{point}", status_code=204)
async def arm_fault(
    point: FaultPoint, body: FaultRequest, _: AdminCaller, context: Context
) -> None:
    """Answer calls at `point` with `status`, `times` times (or until cleared)."""
    _lab_api(context)
    context.faults.arm(point, status=body.status, times=body.times)


@router.delete("/faults", status_code=204)
async def clear_faults(_: AdminCaller, context: Context) -> None:
    _lab_api(context)
    context.faults.clear()


class ClockMove(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    advance_seconds: float = Field(alias="advanceSeconds", gt=0, le=20 * 365 * 86400)


def _clock_json(context: CloudContext) -> dict[str, object]:
    offset = getattr(context.clock, "offset", None)
    return {
        "now": context.clock.now().isoformat(),
        "offsetSeconds": offset.total_seconds() if offset is not None else None,
        "movable": isinstance(context.clock, OffsetClock),
    }


@router.get("/clock")
async def read_clock(_: AdminCaller, context: Context) -> dict[str, object]:
    """The cloud's clock (in `scep-lab up`, every party's)."""
    _lab_api(context)
    return _clock_json(context)


@router.post("/clock")
async def advance_clock(body: ClockMove, _: AdminCaller, context: Context) -> dict[str, object]:
    """Move the virtual clock forward (it never goes back); 409 when this cloud runs on the
    system clock."""
    _lab_api(context)
    if not isinstance(context.clock, OffsetClock):
        raise HTTPException(409, "this cloud runs on the system clock: it cannot be moved")
    context.clock.advance(dt.timedelta(seconds=body.advance_seconds))
    return _clock_json(context)
