"""The lab PKI, declared: which certificates exist, who issues each, and what they carry.

In the manner of certomancer: a `LabPkiSpec` is plain data (a seed, a start time, `CertSpec`s in
issuing order); `build_lab_pki` (in `labpki`) turns it into files. `default_lab_spec` is the PKI the
lab teaches with (see DESIGN.md, "Trust anchors"):

    Lab Enterprise Root CA (offline, 20 y)
    └── Lab Issuing CA (10 y, pathlen 0)
        ├── NDES-RA-Signing         digitalSignature, Certificate Request Agent
        ├── NDES-RA-Encryption      keyEncipherment,  Certificate Request Agent
        └── NDES-Enrollment-Agent   digitalSignature, Certificate Request Agent (countersigns
                                    NDES's submissions to the CA)
    Microsoft Intune ImportPFX Connector CA (self-signed; issues connector identities at run time)
    Microsoft Intune MDM Device CA (self-signed)
    Microsoft Intune Challenge CA (self-signed, pathlen 0)
    ├── Microsoft Intune Challenge Signing     digitalSignature
    └── Microsoft Intune Challenge Encryption  keyEncipherment
    Lab Public TLS Root (20 y)
    └── TLS server (serverAuth; localhost, 127.0.0.1 and the given hostnames)

The challenge certificates hang off their own CA rather than the Connector CA, so that trusting
the Connector CA (which vouches for connectors) never makes a challenge signer trusted, nor the
other way round: one anchor, one purpose.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography import x509

from .errors import LabPkiError
from .issue import CertProfile
from .keys import KeySpec
from .sans import San
from .usage import Eku, KeyUsageName

_LABEL = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_YEAR = timedelta(days=365)
TLS_SERVER_VALIDITY = timedelta(days=825)
_CA_USAGE: frozenset[KeyUsageName] = frozenset({"digital_signature", "key_cert_sign", "crl_sign"})


class LabCert(StrEnum):
    """The labels of `default_lab_spec`'s certificates (and the stems of their file names)."""

    ROOT_CA = "root-ca"
    ISSUING_CA = "issuing-ca"
    NDES_RA_SIGN = "ndes-ra-sign"
    NDES_RA_ENCRYPT = "ndes-ra-encrypt"
    NDES_ENROLLMENT_AGENT = "ndes-enrollment-agent"
    NDES_HOST_TLS = "ndes-host-tls"
    """The NDES host's own TLS certificate (IIS): the connector's local API serves with it."""
    NDES_POLICY_MODULE = "ndes-policy-module"
    """The Intune policy module's client-authentication certificate (NDESCertThumbprint)."""
    INTUNE_CONNECTOR_CA = "intune-connector-ca"
    INTUNE_MDM_DEVICE_CA = "intune-mdm-device-ca"
    INTUNE_CHALLENGE_CA = "intune-challenge-ca"
    INTUNE_CHALLENGE_SIGN = "intune-challenge-sign"
    INTUNE_CHALLENGE_ENCRYPT = "intune-challenge-encrypt"
    TLS_ROOT = "tls-root"
    TLS_SERVER = "tls-server"


@dataclass(frozen=True)
class CertSpec:
    """One certificate of the lab PKI. `issuer` is another spec's label; None means self-signed."""

    label: str
    subject: x509.Name
    issuer: str | None = None
    key: KeySpec = field(default_factory=KeySpec)
    validity: timedelta = _YEAR
    is_ca: bool = False
    path_length: int | None = None
    key_usage: frozenset[KeyUsageName] | None = None
    ekus: tuple[str, ...] = ()
    sans: tuple[San, ...] = ()
    aia_urls: tuple[str, ...] = ()
    cdp_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _LABEL.match(self.label):
            raise LabPkiError(f"label {self.label!r} must match {_LABEL.pattern} (it names files)")
        object.__setattr__(self, "label", str(self.label))
        object.__setattr__(self, "issuer", None if self.issuer is None else str(self.issuer))
        object.__setattr__(self, "sans", tuple(San(*san) for san in self.sans))
        object.__setattr__(self, "ekus", tuple(str(oid) for oid in self.ekus))
        if self.key_usage is not None:
            object.__setattr__(self, "key_usage", frozenset(self.key_usage))
        self.profile()  # validates the profile bits

    def profile(self) -> CertProfile:
        return CertProfile(
            validity=self.validity,
            key_usage=self.key_usage,
            ekus=self.ekus,
            is_ca=self.is_ca,
            path_length=self.path_length,
            aia_urls=self.aia_urls,
            cdp_urls=self.cdp_urls,
        )


@dataclass(frozen=True)
class LabPkiSpec:
    """A whole lab PKI: same seed and not_before, same certificates and keys, byte for byte."""

    seed: bytes
    not_before: datetime
    certs: tuple[CertSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "certs", tuple(self.certs))
        if self.not_before.tzinfo is None:
            raise LabPkiError("not_before must be timezone-aware")
        seen: dict[str, CertSpec] = {}
        for spec in self.certs:
            if spec.label in seen:
                raise LabPkiError(f"label {spec.label!r} is declared twice")
            if spec.issuer is not None:
                issuer = seen.get(spec.issuer)
                if issuer is None:
                    raise LabPkiError(
                        f"{spec.label!r} is issued by {spec.issuer!r}, which must be declared "
                        "before it"
                    )
                if not issuer.is_ca:
                    raise LabPkiError(f"{spec.label!r}: issuer {spec.issuer!r} is not a CA")
            seen[spec.label] = spec

    def get(self, label: str) -> CertSpec:
        for spec in self.certs:
            if spec.label == label:
                return spec
        raise LabPkiError(f"no certificate labelled {label!r} in the lab PKI spec")


def default_lab_spec(
    seed: bytes,
    not_before: datetime,
    hostnames: Iterable[str] = (),
    *,
    key: KeySpec | None = None,
    ca_base_url: str | None = None,
) -> LabPkiSpec:
    """The lab's PKI (see the module docstring). RSA-2048 everywhere unless `key` says otherwise.

    `hostnames` are added to the TLS server certificate (an IP address becomes an IP SAN). With
    `ca_base_url`, certificates issued by the lab's own CAs point at `<base>/pki/<issuer>.crt`
    (AIA caIssuers) and `<base>/pki/<issuer>.crl` (CDP).
    """
    key = key or KeySpec.rsa(2048)
    hostnames = tuple(hostnames)
    base = None if ca_base_url is None else ca_base_url.rstrip("/")

    def spec(
        label: LabCert,
        subject: str,
        issuer: LabCert | None,
        validity: timedelta,
        usage: Iterable[KeyUsageName],
        *,
        is_ca: bool = False,
        path_length: int | None = None,
        ekus: tuple[str, ...] = (),
        sans: tuple[San, ...] = (),
    ) -> CertSpec:
        # only certificates issued by the lab's own CAs point at a CA base URL
        own = base is not None and issuer in (LabCert.ROOT_CA, LabCert.ISSUING_CA)
        return CertSpec(
            label,
            x509.Name.from_rfc4514_string(subject),
            issuer,
            key,
            validity,
            is_ca=is_ca,
            path_length=path_length,
            key_usage=frozenset(usage),
            ekus=ekus,
            sans=sans,
            aia_urls=(f"{base}/pki/{issuer}.crt",) if own else (),
            cdp_urls=(f"{base}/pki/{issuer}.crl",) if own else (),
        )

    def root(label: LabCert, subject: str, path_length: int | None = None) -> CertSpec:
        years = 20 * _YEAR
        return spec(label, subject, None, years, _CA_USAGE, is_ca=True, path_length=path_length)

    cra = (Eku.CERTIFICATE_REQUEST_AGENT.value,)
    ra_validity = 2 * _YEAR
    issuing, challenge_ca = LabCert.ISSUING_CA, LabCert.INTUNE_CHALLENGE_CA
    return LabPkiSpec(
        seed=seed,
        not_before=not_before,
        certs=(
            root(LabCert.ROOT_CA, "CN=Lab Enterprise Root CA,O=Lab"),
            spec(
                LabCert.ISSUING_CA,
                "CN=Lab Issuing CA,O=Lab",
                LabCert.ROOT_CA,
                10 * _YEAR,
                _CA_USAGE,
                is_ca=True,
                path_length=0,
            ),
            spec(
                LabCert.NDES_RA_SIGN,
                "CN=NDES-RA-Signing,O=Lab",
                issuing,
                ra_validity,
                {"digital_signature"},
                ekus=cra,
            ),
            spec(
                LabCert.NDES_RA_ENCRYPT,
                "CN=NDES-RA-Encryption,O=Lab",
                issuing,
                ra_validity,
                {"key_encipherment"},
                ekus=cra,
            ),
            spec(
                LabCert.NDES_ENROLLMENT_AGENT,
                "CN=NDES-Enrollment-Agent,O=Lab",
                issuing,
                ra_validity,
                {"digital_signature"},
                ekus=cra,
            ),
            spec(
                LabCert.NDES_HOST_TLS,
                "CN=ndes.lab.test,O=Lab",
                issuing,
                ra_validity,
                {"digital_signature", "key_encipherment"},
                ekus=(Eku.SERVER_AUTH.value,),
                sans=(San("dns", "ndes.lab.test"), *_tls_sans(())),
            ),
            spec(
                LabCert.NDES_POLICY_MODULE,
                "CN=ndes.lab.test,OU=NDES Policy Module,O=Lab",
                issuing,
                ra_validity,
                {"digital_signature", "key_encipherment"},
                ekus=(Eku.CLIENT_AUTH.value,),
            ),
            root(LabCert.INTUNE_CONNECTOR_CA, "CN=Microsoft Intune ImportPFX Connector CA"),
            root(LabCert.INTUNE_MDM_DEVICE_CA, "CN=Microsoft Intune MDM Device CA"),
            root(LabCert.INTUNE_CHALLENGE_CA, "CN=Microsoft Intune Challenge CA", path_length=0),
            spec(
                LabCert.INTUNE_CHALLENGE_SIGN,
                "CN=Microsoft Intune Challenge Signing",
                challenge_ca,
                ra_validity,
                {"digital_signature"},
            ),
            spec(
                LabCert.INTUNE_CHALLENGE_ENCRYPT,
                "CN=Microsoft Intune Challenge Encryption",
                challenge_ca,
                ra_validity,
                {"key_encipherment"},
            ),
            root(LabCert.TLS_ROOT, "CN=Lab Public TLS Root,O=Lab"),
            spec(
                LabCert.TLS_SERVER,
                f"CN={_tls_common_name(hostnames)},O=Lab",
                LabCert.TLS_ROOT,
                TLS_SERVER_VALIDITY,
                {"digital_signature", "key_encipherment"},
                ekus=(Eku.SERVER_AUTH.value,),
                sans=_tls_sans(hostnames),
            ),
        ),
    )


def _tls_sans(hostnames: Iterable[str]) -> tuple[San, ...]:
    sans = [San("dns", "localhost"), San("ip", "127.0.0.1")]
    for host in hostnames:
        san = San("ip", str(ipaddress.ip_address(host))) if _is_ip(host) else San("dns", host)
        if san not in sans:
            sans.append(san)
    return tuple(sans)


def _tls_common_name(hostnames: Iterable[str]) -> str:
    return next((host for host in hostnames if not _is_ip(host)), "localhost")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
