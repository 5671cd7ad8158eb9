"""Lab-only routes (off with `CLOUD_LAB_API=false`): what a real tenant does not offer but a lab
user needs, such as a challenge on demand for testing any SCEP client or server by hand."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from ..auth import AdminCaller
from ..challenges import NotScepProfile, issue_challenge
from ..deps import Context, Session
from ..domain.errors import ProfileError
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
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (NotScepProfile, ProfileError) as exc:
        raise HTTPException(400, str(exc)) from exc
    return {
        "challenge": issued.challenge,
        "deviceId": issued.device_id,
        "profileId": issued.profile_id,
        "subject": issued.subject,
        "subjectAlternativeNames": [{"type": t, "value": v} for t, v in issued.sans],
        "extendedKeyUsages": list(issued.ekus),
        "keyUsage": sorted(issued.key_usage),
        "keySize": issued.key_size,
        "hashAlgorithm": issued.hash_algorithm,
        "scepServerUrls": list(issued.scep_urls),
        "caThumbprint": issued.ca_thumbprint,
        "expiresAt": issued.expires_at.isoformat(),
    }
