"""The CA as NDES sees it: a port (`CertificateAuthority`) and the values it answers with.

NDES talks to the enterprise CA in two ways (shared/api/ca.py): as enrolment agent, with the
device's PKCS#10 inside a CMS SignedData signed by its Exchange Enrollment Agent (Offline
request) certificate; and, at start, as its own service account with a bare PKCS#10 for each of
its two RA certificates. The HTTP implementation is `ca_http.HttpCertificateAuthority`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography import x509

from shared.api.ca import Disposition


@dataclass(frozen=True)
class CaResult:
    """A request's state at the CA (AD CS disposition, message and HRESULT)."""

    request_id: int
    disposition: Disposition
    message: str
    hresult: int
    certificate: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True)
class CaChain:
    """The issuing CA and its root, as the CA publishes them (AIA)."""

    issuing: x509.Certificate
    root: x509.Certificate


class CertificateAuthority(Protocol):
    async def submit(self, signed_request: bytes, template: str, transaction_id: str) -> CaResult:
        """Submit a CMS-wrapped PKCS#10 signed by the enrolment agent. Raises `CaError`."""
        ...

    async def submit_own(self, csr_der: bytes, template: str) -> CaResult:
        """Submit a bare PKCS#10 as the NDES service account (RA certificates)."""
        ...

    async def get_request(self, request_id: int) -> CaResult:
        """The request's current state (pending ones: until an officer approves them)."""
        ...

    async def fetch_chain(self) -> CaChain: ...

    async def reachable(self) -> bool: ...
