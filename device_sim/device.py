"""One managed device through the whole Intune SCEP life: MDM enrolment with the cloud, check-in,
trusted-certificate profiles into its trust store, each SCEP profile run against NDES as its
persona does it, renewal at the profile's threshold (by the injected clock), removal when the
device is retired or wiped or a profile stops applying — and a state report to the cloud at each
step (`certificateIssuanceState` values, HRESULTs on failure).

The private keys stay in memory (a TPM-stored one cannot even be exported); the MDM identity's
files are written to the device's folder because TLS needs files.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import logging
import os
import random
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared import scep, trace
from shared.clock import Clock
from shared.pki import CsrSpec, San, build_csr, build_self_signed_signer, private_key_pem
from shared.trace import Tracer

from .cloud import CloudRefused, DeviceCloud, HttpFactory, enroll
from .keys import DeviceKey, FreshKeys, KeySource, storage_for
from .persona import PERSONAS, Persona, Platform, RenewalStyle
from .scep_client import (
    CERT_E_UNTRUSTEDCA,
    E_INVALIDARG,
    DeviceFailure,
    ScepClient,
    negotiate,
    thumbprint,
)
from .trust import verify_chain

log = logging.getLogger(__name__)

WINHTTP_UNRECOGNIZED_SCHEME = 0x80072EE6
ENDED_STATES = ("retirePending", "retireIssued", "wipePending", "wipeIssued", "deletePending")


@dataclass(frozen=True)
class Installed:
    profile_id: str
    certificate: x509.Certificate
    key: DeviceKey
    chain: tuple[x509.Certificate, ...]

    @property
    def serial(self) -> str:
        return f"{self.certificate.serial_number:x}"


@dataclass(frozen=True)
class Outcome:
    """What became of one profile at one check-in."""

    profile_id: str
    state: str  # installed, renewed, kept, deleted, or the failure's state
    hresult: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("installed", "renewed", "kept", "deleted")


@dataclass
class DeviceConfig:
    retry_delay_seconds: float | None = None
    """Overrides the profile's CertPoll delay (tests, fleets)."""
    seed: int | None = None
    """For the Android persona's random choice of URL."""
    trace_dir: Path | None = None
    """Record each message to the cloud and NDES in <trace_dir>/device.jsonl."""


@dataclass
class ManagedDevice:
    device_id: str
    name: str
    platform: Platform
    folder: Path
    clock: Clock
    cloud_http: HttpFactory
    keys: KeySource = field(default_factory=FreshKeys)
    config: DeviceConfig = field(default_factory=DeviceConfig)
    scep_transport: httpx.AsyncBaseTransport | None = None
    """Tests: the network to NDES (else real HTTP, HTTPS verified against the trust store)."""
    trusted: dict[str, x509.Certificate] = field(default_factory=dict)
    installed: dict[str, Installed] = field(default_factory=dict)
    management_state: str = "managed"
    _urls: dict[str, str] = field(default_factory=dict)
    _cloud: DeviceCloud | None = None

    @property
    def persona(self) -> Persona:
        return PERSONAS[self.platform]

    # -- MDM --------------------------------------------------------------------------------

    async def enroll(self, http: httpx.AsyncClient, token: str) -> x509.Certificate:
        """MDM enrolment with a bearer token; keeps the identity in the device's folder."""
        key = await self.keys.rsa(2048)
        cert = await enroll(http, token, self.device_id, key)
        self.folder.mkdir(parents=True, exist_ok=True)
        key_file = self.folder / "mdm.key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(private_key_pem(key))
        (self.folder / "mdm.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    def _cloud_client(self) -> DeviceCloud:
        if self._cloud is None:
            self._cloud = DeviceCloud(
                self.cloud_http(self.folder / "mdm.pem", self.folder / "mdm.key")
            )
        return self._cloud

    async def aclose(self) -> None:
        if self._cloud is not None:
            await self._cloud.aclose()
            self._cloud = None

    # -- check-in ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, interval: float) -> int:
        """Check in at once, then every `interval` seconds until `stop` is set (a check-in on
        demand is `check_in()`); a check-in that fails is logged and the schedule goes on.
        Returns how many check-ins were made."""
        done = 0
        while not stop.is_set():
            try:
                await self.check_in()
            except (CloudRefused, httpx.HTTPError, OSError) as exc:
                log.warning("%s: check-in failed: %s", self.name, exc)
            done += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        return done

    async def check_in(self) -> list[Outcome]:
        """One check-in: what the cloud says applies, done. Returns each SCEP profile's outcome."""
        cloud = self._cloud_client()
        answer = await cloud.checkin()
        self.management_state = str(answer.get("managementState", "managed"))
        if self.management_state in ENDED_STATES:
            return await self._remove_all(cloud)
        self.trusted = {
            t["profileId"]: x509.load_der_x509_certificate(base64.b64decode(t["certificate"]))
            for t in answer.get("trustedCertificates", [])
        }
        profiles: list[dict[str, Any]] = answer.get("scepProfiles", [])
        outcomes: list[Outcome] = []
        listed = {p["profileId"] for p in profiles}
        for gone in [pid for pid in self.installed if pid not in listed]:
            outcomes.append(await self._remove(cloud, gone))
        for profile in profiles:
            if "error" in profile:
                outcomes.append(
                    Outcome(profile["profileId"], "challengeIssueFailed", None, profile["error"])
                )
                continue
            outcomes.append(await self._apply(cloud, profile))
        return outcomes

    async def _apply(self, cloud: DeviceCloud, profile: dict[str, Any]) -> Outcome:
        with trace.activity("profile"):
            return await self._apply_profile(cloud, profile)

    async def _apply_profile(self, cloud: DeviceCloud, profile: dict[str, Any]) -> Outcome:
        profile_id = profile["profileId"]
        current = self.installed.get(profile_id)
        renewal = current is not None
        if current is not None and not self._due(current, profile):
            return Outcome(profile_id, "kept")
        try:
            installed = await self._enrol(cloud, profile, renew=current)
        except DeviceFailure as failure:
            log.info("%s: profile %s failed: %s", self.name, profile_id, failure)
            await self._report(cloud, profile_id, failure.state, hResult=_signed(failure.hresult))
            return Outcome(profile_id, failure.state, failure.hresult, str(failure))
        self.installed[profile_id] = installed
        cert = installed.certificate
        await self._report(
            cloud,
            profile_id,
            "installed",
            serialNumber=installed.serial,
            thumbprint=thumbprint(cert),
            expiration=cert.not_valid_after_utc.isoformat(),
            keyLength=installed.key.bits,
        )
        return Outcome(profile_id, "renewed" if renewal else "installed")

    def _due(self, installed: Installed, profile: dict[str, Any]) -> bool:
        """Inside the renewal window: at most `renewalThresholdPercentage` % of the validity
        left, by the device's clock."""
        cert = installed.certificate
        lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
        left = cert.not_valid_after_utc - self.clock.now()
        threshold = float(profile.get("renewalThresholdPercentage") or 20) / 100
        return left <= lifetime * threshold

    async def _report(
        self, cloud: DeviceCloud, profile_id: str, state: str, **fields: object
    ) -> None:
        try:
            await cloud.report(profile_id, state, **fields)
        except (CloudRefused, httpx.HTTPError) as exc:
            log.warning("%s: state %s of %s not reported: %s", self.name, state, profile_id, exc)

    # -- one SCEP profile -------------------------------------------------------------------

    async def _enrol(
        self, cloud: DeviceCloud, profile: dict[str, Any], *, renew: Installed | None
    ) -> Installed:
        persona = self.persona
        profile_id = profile["profileId"]
        sans = tuple(San(s["type"], s["value"]) for s in profile.get("subjectAlternativeNames", []))
        if (
            persona.requires_san
            and profile.get("certificateType", "device") == "device"
            and not sans
        ):
            raise DeviceFailure(
                "a device certificate profile without a subject alternative name",
                state="requestCreationFailed",
                hresult=E_INVALIDARG,
            )
        url = self._url(profile_id, profile["scepServerUrls"])
        if persona.requires_https and not url.lower().startswith("https://"):
            raise DeviceFailure(
                f"the SCEP URL {url} is not HTTPS",
                state="requestSubmitFailed",
                hresult=WINHTTP_UNRECOGNIZED_SCHEME,
            )
        bits = int(profile["keySize"])
        key = DeviceKey(await self.keys.rsa(bits), storage_for(profile.get("keyStorageProvider")))
        windows_renewal = (
            renew is not None and persona.renewal is RenewalStyle.PKCSREQ_SIGNED_BY_OLD
        )
        spec = CsrSpec(
            subject=x509.Name.from_rfc4514_string(profile["subjectName"]),
            sans=sans,
            ekus=tuple(profile.get("extendedKeyUsages", [])),
            key_usage=frozenset(profile.get("keyUsage", [])) or None,
            challenge_password=None if windows_renewal else profile["challenge"],
            challenge_encoding="printable" if persona.challenge_encoding == "printable" else "utf8",
        )
        csr = build_csr(key.private, spec).public_bytes(serialization.Encoding.DER)
        async with self._scep_http() as http:
            client = ScepClient(http, persona, url, ca_name=profile.get("displayName", ""))
            caps = await client.caps()
            algorithms = negotiate(persona, caps)
            ca = await client.ca_info(caps)
            self._check_ca(ca.certificates, profile.get("caThumbprint", ""))
            if windows_renewal and renew is not None:
                signer, signer_key = renew.certificate, renew.key.private
            else:
                now = self.clock.now() - dt.timedelta(minutes=5)
                signer = build_self_signed_signer(key.private, spec.subject, now)
                signer_key = key.private

            async def pending(transaction: str) -> None:
                await self._report(cloud, profile_id, "issuePending")

            issued = await client.enrol(
                ca,
                algorithms,
                scep.MessageType.PKCS_REQ,
                csr,
                signer=signer,
                signer_key=signer_key,
                subject=spec.subject,
                retries=int(profile.get("retryCount", 3)),
                retry_delay=self._retry_delay(profile),
                on_pending=pending,
            )
        if issued.public_key() != key.private.public_key():
            raise DeviceFailure(
                "the issued certificate is not for the request's key",
                state="responseProcessingFailed",
                hresult=E_INVALIDARG,
            )
        chain = verify_chain(
            issued,
            intermediates=ca.ca_certificates,
            trusted=self.trusted.values(),
            now=self.clock.now(),
            roots_only=persona.roots_only_anchor,
            refuse_sha1=persona.refuses_sha1_chain,
        )
        return Installed(profile_id, issued, key, chain)

    def _retry_delay(self, profile: dict[str, Any]) -> float:
        if self.config.retry_delay_seconds is not None:
            return self.config.retry_delay_seconds
        return float(profile.get("retryDelaySeconds", 60))

    def _url(self, profile_id: str, urls: list[str]) -> str:
        if profile_id in self._urls:
            return self._urls[profile_id]
        if self.persona.random_url:
            chosen = random.Random(self.config.seed).choice(urls)
        else:
            chosen = urls[0]
        self._urls[profile_id] = chosen
        return chosen

    def _check_ca(self, certificates: tuple[x509.Certificate, ...], expected: str) -> None:
        """The profile's CA thumbprint (SHA-1) must be one of the certificates GetCACert gave."""
        if not expected:
            return
        if expected.replace(":", "").upper() not in {thumbprint(c) for c in certificates}:
            raise DeviceFailure(
                "GetCACert did not return the CA the profile names",
                state="requestSubmitFailed",
                hresult=CERT_E_UNTRUSTEDCA,
            )

    def _scep_http(self) -> httpx.AsyncClient:
        tracer = Tracer("device", self.config.trace_dir)
        if self.scep_transport is not None:
            return httpx.AsyncClient(
                transport=tracer.transport("ndes", self.scep_transport), timeout=60
            )
        context = ssl.create_default_context()
        pem = "".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in self.trusted.values()
        )
        if pem:
            context = ssl.create_default_context(cadata=pem)
        return httpx.AsyncClient(transport=tracer.transport("ndes", verify=context), timeout=60)

    # -- removal ----------------------------------------------------------------------------

    async def _remove(self, cloud: DeviceCloud, profile_id: str) -> Outcome:
        self.installed.pop(profile_id, None)
        await self._report(cloud, profile_id, "deleted")
        return Outcome(profile_id, "deleted")

    async def _remove_all(self, cloud: DeviceCloud) -> list[Outcome]:
        outcomes = [await self._remove(cloud, pid) for pid in list(self.installed)]
        self.trusted.clear()
        return outcomes


def _signed(hresult: int) -> int:
    value = hresult & 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value
