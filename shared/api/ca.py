"""Wire models between NDES (as enrolment agent) and the enterprise CA (ca_sim).

Submit: NDES wraps the device's PKCS#10 in a CMS SignedData signed with its Exchange Enrollment
Agent (Offline request) certificate — the "on behalf of" request of AD CS — and names the
template. The CA trusts only enrolment-agent certificates it issued with the Certificate Request
Agent EKU, and records every request with its disposition.
"""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Disposition(IntEnum):
    """AD CS request dispositions (CA database values)."""

    ACTIVE = 8
    PENDING = 9
    ISSUED = 20
    REVOKED = 21
    FAILED = 30
    DENIED = 31


class RevocationReason(IntEnum):
    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    CA_COMPROMISE = 2
    AFFILIATION_CHANGED = 3
    SUPERSEDED = 4
    CESSATION_OF_OPERATION = 5
    CERTIFICATE_HOLD = 6
    REMOVE_FROM_CRL = 8


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class SubmitRequest(WireModel):
    """POST {ca}/ca/submit"""

    request: str = Field(
        description="base64 DER CMS SignedData: eContent = the PKCS#10, "
        "signed by the enrolment agent certificate"
    )
    template: str = Field(
        description="template name (not display name), e.g. IPSECIntermediateOffline"
    )
    transaction_id: str | None = Field(
        default=None, description="SCEP transactionID, for the record"
    )


class RequestResult(WireModel):
    """The answer to a submit, and the state of a request later (GET {ca}/ca/requests/{id})."""

    request_id: int
    disposition: Disposition
    disposition_message: str
    hresult: int = Field(description="0 on success; a CERTSRV_E_* HRESULT otherwise (unsigned)")
    certificate: str | None = Field(
        default=None, description="base64 DER of the issued certificate"
    )
    chain: list[str] = Field(
        default_factory=list, description="base64 DER, issuing CA up to the root"
    )
    serial_number: str | None = Field(default=None, description="hex, as AD CS shows it")


class RevokeRequest(WireModel):
    """POST {ca}/ca/revoke (administrators and the connector's revocation agent)."""

    serial_number: str = Field(description="hex serial number")
    reason: RevocationReason = RevocationReason.UNSPECIFIED


class RevokeResult(WireModel):
    serial_number: str
    revoked: bool
    hresult: int
    message: str
