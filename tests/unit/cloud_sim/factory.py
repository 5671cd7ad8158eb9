"""Builders for the domain tests: claims, the CSR that matches them, a fake store lookup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from cloud_sim.domain import (
    ChallengeClaims,
    ChallengeKeys,
    ErrorCode,
    Verdict,
    parse_subject,
    sid_uri,
    validate,
)
from shared.pki import CsrSpec, Eku, PrivateKey, San, build_csr

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "6f1c2e7a-0b0d-4c55-9a3e-5d1f00c0ffee"
DEVICE = "d-4a8b1c"
USER = "u-ada"
PROFILE = "p-wifi-user"
REQUEST = "r-0001"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"


def make_claims(**overrides: object) -> ChallengeClaims:
    values: dict[str, object] = {
        "tenant_id": TENANT,
        "device_id": DEVICE,
        "user_id": USER,
        "profile_id": PROFILE,
        "request_id": REQUEST,
        "expected_subject": "CN=ada,OU=Users,O=Contoso",
        "expected_sans": (
            ("upn", "ada@contoso.test"),
            ("email", "ada@contoso.test"),
            ("uri", sid_uri(SID)),
        ),
        "expected_ekus": (Eku.CLIENT_AUTH.value, Eku.EMAIL_PROTECTION.value),
        "expected_key_usage": frozenset({"digital_signature", "key_encipherment"}),
        "expected_key_length": 2048,
        "hash_algorithm": "sha2",
        "issued_at": NOW - timedelta(minutes=10),
        "expires_at": NOW + timedelta(minutes=50),
    }
    values.update(overrides)
    return ChallengeClaims(**values)  # type: ignore[arg-type]


def spec_for(claims: ChallengeClaims, challenge: str | None) -> CsrSpec:
    """The CSR a well-behaved device builds from its profile and challenge."""
    return CsrSpec(
        subject=parse_subject(claims.expected_subject),
        sans=tuple(San(kind, value) for kind, value in claims.expected_sans),
        ekus=claims.expected_ekus,
        key_usage=frozenset(claims.expected_key_usage),
        challenge_password=challenge,
    )


def csr_der(key: PrivateKey, spec: CsrSpec) -> bytes:
    return build_csr(key, spec).public_bytes(Encoding.DER)


def sealed_request(
    keys: ChallengeKeys, key: PrivateKey, claims: ChallengeClaims, **spec_changes: object
) -> bytes:
    """A DER CSR carrying `claims` sealed, built like `spec_for` with `spec_changes` applied."""
    base = spec_for(claims, keys.seal(claims))
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    fields.update(spec_changes)
    return csr_der(key, CsrSpec(**fields))


def name(text: str) -> x509.Name:
    return parse_subject(text)


@dataclass
class FakeLookup:
    """The store, as the decision table sees it; records what it was asked."""

    devices: set[tuple[str, str]] = field(default_factory=lambda: {(TENANT, DEVICE)})
    users: dict[tuple[str, str], str] = field(default_factory=lambda: {(TENANT, DEVICE): USER})
    used: set[str] = field(default_factory=set)
    targeted: set[tuple[str, str]] = field(default_factory=lambda: {(DEVICE, PROFILE)})
    asked: list[str] = field(default_factory=list)

    async def device_exists(self, tenant_id: str, device_id: str) -> bool:
        self.asked.append("device_exists")
        return (tenant_id, device_id) in self.devices

    async def user_matches(self, tenant_id: str, device_id: str, user_id: str) -> bool:
        self.asked.append("user_matches")
        return self.users.get((tenant_id, device_id)) == user_id

    async def challenge_used(self, challenge_id: str) -> bool:
        self.asked.append("challenge_used")
        return challenge_id in self.used

    async def is_profile_targeted(self, device_id: str, profile_id: str) -> bool:
        self.asked.append("is_profile_targeted")
        return (device_id, profile_id) in self.targeted


async def check(
    keys: ChallengeKeys,
    request: bytes | str,
    lookup: FakeLookup | None = None,
    **options: Any,
) -> Verdict:
    """`validate` as the tenant's connector calls it at NOW, against a fake store."""
    options.setdefault("caller_tenant_id", TENANT)
    options.setdefault("now", NOW)
    return await validate(request, keys=keys, lookup=lookup or FakeLookup(), **options)


async def code_of(
    keys: ChallengeKeys,
    key: PrivateKey,
    claims_changes: dict[str, Any] | None = None,
    lookup: FakeLookup | None = None,
    **csr_changes: Any,
) -> ErrorCode:
    """The code for a request built by `sealed_request` from claims changed by `claims_changes`."""
    claims = make_claims(**(claims_changes or {}))
    verdict = await check(keys, sealed_request(keys, key, claims, **csr_changes), lookup)
    return verdict.code
