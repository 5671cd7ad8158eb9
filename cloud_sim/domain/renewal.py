"""The decision table for a renewal: a request that carries no challenge, signed with a
certificate the device already holds — how Windows renews an Intune SCEP certificate (a PKCSReq
signed by the old certificate; NDES checks the signature and passes the signer to the policy
module). The old certificate stands in for the challenge as the proof of who asks; what the
request may ask for is what the profile resolves to for the device today.

 1. the CSR decodes, and its self-signature verifies   CertificateRequestDecodingFailed
 2. the signer is a certificate Intune recorded as      SigningCertThumbprintMismatch
    issued through a SCEP profile (by SHA-1 thumbprint)
 3. it is not revoked, nor queued for revocation        SigningCertThumbprintMismatch
 4. the profile still targets the device                ScepProfileNoLongerTargetedToTheClient
 5. the CSR asks for what the profile resolves to now   (as `validate`'s steps 11-15)
otherwise Success.

Choices where Intune's behaviour is not public: the signer's validity period is not checked
here (NDES refuses an out-of-date renewal signer with badTime before it asks); nor is the
renewal threshold (devices decide when to renew; the lab's personas keep to the window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .claims import ChallengeClaims
from .codes import ErrorCode
from .validation import Verdict, _verdict, compare_request, read_request


@dataclass(frozen=True)
class IssuedCertificate:
    """What the cloud recorded about a certificate it saw issued."""

    device_id: str
    profile_id: str
    revoked: bool
    """Revoked, or queued or handed out for revocation."""


class RenewalLookup(Protocol):
    async def issued_certificate(self, thumbprint: str) -> IssuedCertificate | None:
        """The tenant's record of the certificate with this SHA-1 thumbprint (upper hex)."""
        ...

    async def is_profile_targeted(self, device_id: str, profile_id: str) -> bool: ...

    async def expected_claims(self, device_id: str, profile_id: str) -> ChallengeClaims:
        """What a request from the device through the profile must hold, resolved now."""
        ...


async def validate_renewal(
    certificate_request: bytes | str, *, signer_thumbprint: str, lookup: RenewalLookup
) -> Verdict:
    csr = read_request(certificate_request)
    if isinstance(csr, Verdict):
        return csr
    issued = await lookup.issued_certificate(signer_thumbprint.upper())
    if issued is None:
        return _verdict(
            ErrorCode.SIGNING_CERT_THUMBPRINT_MISMATCH,
            "the renewal signer is no certificate Intune issued",
            csr=csr,
        )
    if issued.revoked:
        return _verdict(
            ErrorCode.SIGNING_CERT_THUMBPRINT_MISMATCH, "the renewal signer is revoked", csr=csr
        )
    if not await lookup.is_profile_targeted(issued.device_id, issued.profile_id):
        return _verdict(ErrorCode.SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT, csr=csr)
    claims = await lookup.expected_claims(issued.device_id, issued.profile_id)
    code, detail = compare_request(csr, claims)
    return _verdict(code, detail, claims=claims, csr=csr)
