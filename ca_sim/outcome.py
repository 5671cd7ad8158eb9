"""What becomes of a certificate request: refused (FAILED or DENIED, with an HRESULT), pending,
or issued."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.api.ca import Disposition

from .hresult import Hresult


@dataclass(frozen=True)
class Refusal:
    """A request the CA records as FAILED (30) or DENIED (31), with its HRESULT."""

    disposition: Disposition
    hresult: Hresult
    message: str

    @classmethod
    def failed(cls, hresult: Hresult, text: str) -> Refusal:
        return cls(Disposition.FAILED, hresult, f"Error Parsing Request {hresult.hex}: {text}")

    @classmethod
    def denied(cls, hresult: Hresult, text: str) -> Refusal:
        return cls(Disposition.DENIED, hresult, f"Denied by Policy Module {hresult.hex}: {text}")


class Admission(StrEnum):
    """The request passed the policy: issue now, or wait for a certificate manager."""

    ISSUE = "issue"
    PENDING = "pending"
