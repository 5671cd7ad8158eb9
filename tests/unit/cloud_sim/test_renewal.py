"""The renewal decision table: a request without a challenge, signed by a certificate the
cloud recorded as issued, is judged against what the profile resolves to now."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cloud_sim.domain import ChallengeClaims, ErrorCode
from cloud_sim.domain.renewal import IssuedCertificate, validate_renewal

from .factory import DEVICE, PROFILE, csr_der, make_claims, spec_for

THUMBPRINT = "AB" * 20


@dataclass
class FakeRenewals:
    issued: dict[str, IssuedCertificate] = field(
        default_factory=lambda: {THUMBPRINT: IssuedCertificate(DEVICE, PROFILE, revoked=False)}
    )
    targeted: set[tuple[str, str]] = field(default_factory=lambda: {(DEVICE, PROFILE)})
    claims: ChallengeClaims = field(default_factory=make_claims)

    async def issued_certificate(self, thumbprint: str) -> IssuedCertificate | None:
        return self.issued.get(thumbprint)

    async def is_profile_targeted(self, device_id: str, profile_id: str) -> bool:
        return (device_id, profile_id) in self.targeted

    async def expected_claims(self, device_id: str, profile_id: str) -> ChallengeClaims:
        assert (device_id, profile_id) == (DEVICE, PROFILE)
        return self.claims


def renewal_request(key: rsa.RSAPrivateKey, subject: str | None = None) -> bytes:
    spec = spec_for(make_claims(**({"expected_subject": subject} if subject else {})), None)
    return csr_der(key, spec)


async def test_a_renewal_for_what_the_profile_asks_succeeds(device_key: rsa.RSAPrivateKey) -> None:
    verdict = await validate_renewal(
        renewal_request(device_key), signer_thumbprint=THUMBPRINT.lower(), lookup=FakeRenewals()
    )
    assert verdict.code is ErrorCode.SUCCESS
    assert verdict.claims is not None and verdict.claims.device_id == DEVICE


@pytest.mark.parametrize(
    ("lookup", "subject", "code"),
    [
        (FakeRenewals(issued={}), None, ErrorCode.SIGNING_CERT_THUMBPRINT_MISMATCH),
        (
            FakeRenewals(issued={THUMBPRINT: IssuedCertificate(DEVICE, PROFILE, revoked=True)}),
            None,
            ErrorCode.SIGNING_CERT_THUMBPRINT_MISMATCH,
        ),
        (
            FakeRenewals(targeted=set()),
            None,
            ErrorCode.SCEP_PROFILE_NO_LONGER_TARGETED_TO_THE_CLIENT,
        ),
        (FakeRenewals(), "CN=Administrator", ErrorCode.SUBJECT_NAME_MISMATCH),
    ],
    ids=["unknown signer", "revoked signer", "profile unassigned", "another identity"],
)
async def test_a_renewal_is_refused(
    device_key: rsa.RSAPrivateKey, lookup: FakeRenewals, subject: str | None, code: ErrorCode
) -> None:
    verdict = await validate_renewal(
        renewal_request(device_key, subject), signer_thumbprint=THUMBPRINT, lookup=lookup
    )
    assert verdict.code is code


async def test_garbage_is_a_decoding_failure() -> None:
    verdict = await validate_renewal(
        b"\x30\x03\x02\x01\x00", signer_thumbprint=THUMBPRINT, lookup=FakeRenewals()
    )
    assert verdict.code is ErrorCode.CERTIFICATE_REQUEST_DECODING_FAILED
