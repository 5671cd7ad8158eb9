"""Issuing challenges: for one device and one SCEP profile, resolve what the request must hold
(subject, SANs, EKUs, key usage, key size), bind it into a sealed challenge, and record that the
challenge was issued. Used by device check-in and by `scep-lab challenge`."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from shared.pki import LabCert

from .context import CloudContext
from .domain.challenge import ChallengeKeys
from .domain.claims import ChallengeClaims, HashAlgorithm, KeyUsage
from .domain.variables import (
    DeviceFacts,
    Platform,
    UserFacts,
    build_expected_sans,
    build_expected_subject,
    subject_template,
)
from .management import get_configuration, get_device, record_certificate_state
from .management.enums import CertificateIssuanceState, SubjectAlternativeNameType
from .management.records import ManagedDevice
from .store.identity import directory

_KEY_USAGE: dict[str, KeyUsage] = {
    "digitalSignature": "digital_signature",
    "keyEncipherment": "key_encipherment",
}


class NotScepProfile(ValueError):
    pass


@dataclass(frozen=True)
class IssuedChallenge:
    """A sealed challenge and what the request that carries it must contain."""

    challenge: str
    challenge_id: str
    device_id: str
    profile_id: str
    subject: str
    sans: tuple[tuple[str, str], ...]
    ekus: tuple[str, ...]
    key_usage: frozenset[str]
    key_size: int
    hash_algorithm: str
    scep_urls: tuple[str, ...]
    ca_thumbprint: str
    expires_at: dt.datetime

    def request_json(self) -> dict[str, object]:
        """What the request must contain besides its subject, as the wire names it."""
        return {
            "subjectAlternativeNames": [{"type": t, "value": v} for t, v in self.sans],
            "extendedKeyUsages": list(self.ekus),
            "keyUsage": sorted(self.key_usage),
            "keySize": self.key_size,
            "hashAlgorithm": self.hash_algorithm,
            "scepServerUrls": list(self.scep_urls),
            "caThumbprint": self.ca_thumbprint,
            "expiresAt": self.expires_at.isoformat(),
        }


def challenge_keys(context: CloudContext) -> ChallengeKeys:
    pki = context.pki
    return ChallengeKeys.load(
        (pki.cert(LabCert.INTUNE_CHALLENGE_SIGN), pki.key(LabCert.INTUNE_CHALLENGE_SIGN)),
        (pki.cert(LabCert.INTUNE_CHALLENGE_ENCRYPT), pki.key(LabCert.INTUNE_CHALLENGE_ENCRYPT)),
    )


async def _facts(
    session: AsyncSession, device: ManagedDevice
) -> tuple[DeviceFacts, UserFacts | None]:
    facts = DeviceFacts(
        intune_device_id=device.id,
        platform=device.platform.value,
        device_name=device.device_name,
        serial_number=device.serial_number,
        imei=device.imei,
        meid=device.meid,
        entra_device_id=device.azure_ad_device_id,
        wifi_mac=device.wifi_mac_address,
        fqdn=device.fully_qualified_domain_name,
    )
    if device.user_id is None:
        return facts, None
    user = await (await directory(session, device.tenant_id)).get_user(device.user_id)
    if user is None:
        return facts, None
    return facts, UserFacts(
        upn=user.user_principal_name,
        email=user.mail,
        user_name=user.on_premises_sam_account_name,
        on_prem_sid=user.on_premises_security_identifier,
        on_prem_dn=user.on_premises_distinguished_name,
        on_prem_sam_account_name=user.on_premises_sam_account_name,
    )


@dataclass(frozen=True)
class Expectations:
    """What a request from this device through this profile must hold, as challenge claims
    (fresh request ID, valid from `now`), with what the device is told besides."""

    claims: ChallengeClaims
    scep_urls: tuple[str, ...]
    ca_thumbprint: str
    user_display_name: str | None


async def resolve_expectations(
    session: AsyncSession,
    context: CloudContext,
    tenant_id: str,
    device_id: str,
    profile_id: str,
    *,
    now: dt.datetime,
) -> Expectations:
    """Resolve the profile's subject, SANs, EKUs, key usage and size for this device (and its
    user, for a user certificate). Raises the management area's NotFound, NotScepProfile, or the
    domain's ProfileError/UnresolvedVariable when the profile cannot be satisfied on this device
    (Intune fails the profile then)."""
    device = await get_device(session, tenant_id, device_id)
    profile = await get_configuration(session, tenant_id, profile_id)
    scep = profile.scep
    if scep is None:
        raise NotScepProfile(f"{profile.display_name} is not a SCEP certificate profile")
    device_facts, user = await _facts(session, device)
    is_user_cert = scep.certificate_type.value == "user"
    cert_user = user if is_user_cert else None
    platform: Platform = profile.platform.value
    subject = build_expected_subject(
        subject_template(scep.subject_name_format.value, scep.subject_name_format_string),
        device_facts,
        cert_user,
        platform=platform,
    )
    definitions: list[tuple[str, str]] = []
    if scep.subject_alternative_name_type is not SubjectAlternativeNameType.NONE:
        definitions.append(
            (
                scep.subject_alternative_name_type.value,
                scep.subject_alternative_name_format_string or "",
            )
        )
    definitions += [(c.san_type.value, c.name) for c in scep.custom_subject_alternative_names]
    sans = build_expected_sans(definitions, device_facts, cert_user, platform=platform)
    root = (await get_configuration(session, tenant_id, scep.root_certificate)).trusted_root
    hash_algorithm: HashAlgorithm = (
        "sha2" if any(h.value == "sha2" for h in scep.hash_algorithm) else "sha1"
    )
    claims = ChallengeClaims(
        tenant_id=tenant_id,
        device_id=device.id,
        user_id=device.user_id if is_user_cert else None,
        profile_id=profile.id,
        request_id=str(uuid.uuid4()),
        expected_subject=subject.rfc4514_string(),
        expected_sans=sans,
        expected_ekus=tuple(e.object_identifier for e in scep.extended_key_usages),
        expected_key_usage=frozenset(_KEY_USAGE[k.value] for k in scep.key_usage),
        expected_key_length=scep.key_size.bits,
        hash_algorithm=hash_algorithm,
        issued_at=now,
        expires_at=now + dt.timedelta(minutes=context.settings.challenge_validity_minutes),
    )
    return Expectations(
        claims,
        scep.scep_server_urls,
        root.thumbprint if root is not None else "",
        device.user_display_name,
    )


async def issue_challenge(
    session: AsyncSession, context: CloudContext, tenant_id: str, device_id: str, profile_id: str
) -> IssuedChallenge:
    """Seal a fresh challenge for `device_id` and SCEP profile `profile_id`, and record that it
    was issued. Raises as `resolve_expectations`."""
    now = context.clock.now()
    expected = await resolve_expectations(
        session, context, tenant_id, device_id, profile_id, now=now
    )
    claims = expected.claims
    sealed = challenge_keys(context).seal(claims)
    await record_certificate_state(
        session,
        tenant_id,
        device_id=claims.device_id,
        configuration_id=claims.profile_id,
        issuance_state=CertificateIssuanceState.CHALLENGE_ISSUED,
        now=now,
        user_display_name=expected.user_display_name,
    )
    return IssuedChallenge(
        challenge=sealed,
        challenge_id=claims.challenge_id,
        device_id=claims.device_id,
        profile_id=claims.profile_id,
        subject=claims.expected_subject,
        sans=claims.expected_sans,
        ekus=claims.expected_ekus,
        key_usage=frozenset(claims.expected_key_usage),
        key_size=claims.expected_key_length,
        hash_algorithm=claims.hash_algorithm,
        scep_urls=expected.scep_urls,
        ca_thumbprint=expected.ca_thumbprint,
        expires_at=claims.expires_at,
    )
