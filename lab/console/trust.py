"""The trust map: every certificate of the running lab, who holds its key, who trusts it and why.

Read from what the parties themselves use and publish: the lab PKI's files under `<data>/pki`,
NDES's RA pair as its GetCACert answers it, the connector's identity as its health reports it
(see `health.published_certificates`), and the trusted certificate profiles the cloud deploys to
devices: what is drawn is what is in force, not a diagram kept beside it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from shared.pki import LabCert


@dataclass(frozen=True)
class Known:
    """A certificate of the lab: where its file is, what it is called, who holds its key."""

    id: str
    name: str
    path: str | None
    """Relative to the data folder; None: asked of the party that holds it (`held`)."""
    held_by: str
    purpose: str


_PKI = "pki"
KNOWN: tuple[Known, ...] = (
    Known(
        LabCert.ROOT_CA.value,
        "Enterprise root CA",
        f"{_PKI}/root-ca.pem",
        "ca",
        "The enterprise PKI's anchor: devices, NDES and the policy module trust what chains here.",
    ),
    Known(
        LabCert.ISSUING_CA.value,
        "Enterprise issuing CA",
        f"{_PKI}/issuing-ca.pem",
        "ca",
        "Issues the devices' certificates (on NDES's request) and NDES's RA certificates.",
    ),
    Known(
        "ra-sign",
        "NDES RA signing",
        None,
        "ndes",
        "Signs NDES's CertRep replies; devices check the reply's signature against it.",
    ),
    Known(
        "ra-encrypt",
        "NDES RA encryption",
        None,
        "ndes",
        "Devices encrypt their PKCSReq (the CSR and challenge) to it: only NDES can read them.",
    ),
    Known(
        LabCert.NDES_HOST_TLS.value,
        "NDES host TLS",
        f"{_PKI}/ndes-host-tls.pem",
        "connector",
        "IIS's HTTPS on the NDES host; the connector's local API serves with it too.",
    ),
    Known(
        LabCert.NDES_POLICY_MODULE.value,
        "Policy module client",
        f"{_PKI}/ndes-policy-module.pem",
        "policy-module",
        "The Intune policy module's client certificate: the only caller the connector admits.",
    ),
    Known(
        LabCert.INTUNE_CONNECTOR_CA.value,
        "Intune Connector CA",
        f"{_PKI}/intune-connector-ca.pem",
        "cloud",
        "Intune's CA for connector identities: issued at sign-in, renewed before they expire.",
    ),
    Known(
        "connector-identity",
        "Connector identity",
        None,
        "connector",
        "The connector's client certificate towards Intune (validate, notify, revocation).",
    ),
    Known(
        LabCert.INTUNE_MDM_DEVICE_CA.value,
        "Intune MDM device CA",
        f"{_PKI}/intune-mdm-device-ca.pem",
        "cloud",
        "Issues each managed device's MDM identity, which it presents to check in.",
    ),
    Known(
        LabCert.INTUNE_CHALLENGE_CA.value,
        "Intune challenge CA",
        f"{_PKI}/intune-challenge-ca.pem",
        "cloud",
        "Anchors the keys Intune signs and encrypts SCEP challenges with.",
    ),
    Known(
        LabCert.INTUNE_CHALLENGE_SIGN.value,
        "Challenge signing",
        f"{_PKI}/intune-challenge-sign.pem",
        "cloud",
        "Signs every challenge Intune hands a device; validation checks the signature.",
    ),
    Known(
        LabCert.INTUNE_CHALLENGE_ENCRYPT.value,
        "Challenge encryption",
        f"{_PKI}/intune-challenge-encrypt.pem",
        "cloud",
        "Encrypts the challenge's claims: only Intune reads them back (NDES sees an opaque blob).",
    ),
    Known(
        LabCert.TLS_ROOT.value,
        "Public TLS root",
        f"{_PKI}/tls-root.pem",
        "cloud",
        "Stands for the public root behind Microsoft's HTTPS endpoints.",
    ),
    Known(
        LabCert.TLS_SERVER.value,
        "Cloud TLS server",
        f"{_PKI}/tls-server.pem",
        "cloud",
        "The cloud's HTTPS certificate (login, Graph, the connector and validation services).",
    ),
)

HOLDS_NOTE = {
    "device": "Each device's own keys, made on the device: its MDM identity (issued by the Intune "
    "MDM device CA at enrolment, presented at every check-in) and one per certificate SCEP gives "
    "it (the Intune page's certificate report lists them)."
}
"""What a party holds that no file of the lab shows."""

PARTIES = (
    ("device", "Managed devices"),
    ("ndes", "NDES (IIS, mscep.dll)"),
    ("policy-module", "Intune policy module"),
    ("connector", "Certificate Connector"),
    ("cloud", "Intune cloud"),
    ("ca", "Enterprise CA"),
)

# Trust that a setting of the lab puts in place, whatever the profiles say.
_SETTINGS = (
    (
        "device",
        LabCert.TLS_ROOT.value,
        "The device's own root store: the cloud's HTTPS (check-in, status reports) chains to it.",
    ),
    (
        "cloud",
        LabCert.INTUNE_MDM_DEVICE_CA.value,
        "Check-ins must present an MDM identity issued by this CA at device enrolment.",
    ),
    (
        "cloud",
        LabCert.INTUNE_CONNECTOR_CA.value,
        "The connector services admit a client certificate from this CA only (mutual TLS).",
    ),
    (
        "cloud",
        LabCert.INTUNE_CHALLENGE_SIGN.value,
        "Validation accepts a challenge only with this key's signature on it.",
    ),
    (
        "connector",
        LabCert.TLS_ROOT.value,
        "Its HTTPS client towards Intune (Microsoft's public TLS in the real service).",
    ),
    (
        "connector",
        LabCert.NDES_POLICY_MODULE.value,
        "Its local API admits the policy module's certificate (NDES's NDESCertThumbprint).",
    ),
    (
        "policy-module",
        LabCert.ROOT_CA.value,
        "The connector's local API serves with the NDES host's certificate, from this root.",
    ),
    (
        "ndes",
        LabCert.ISSUING_CA.value,
        "NDES's CA configuration: the CA it forwards requests to and whose chain it returns in "
        "GetCACert.",
    ),
)


def _read(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _key(cert: x509.Certificate) -> str:
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA {public.key_size}"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return f"EC {public.curve.name}"
    return type(public).__name__


def _ekus(cert: x509.Certificate) -> list[str]:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    names = {
        v: k for k, v in vars(ExtendedKeyUsageOID).items() if isinstance(v, x509.ObjectIdentifier)
    }
    return [_camel(names[oid]) if oid in names else oid.dotted_string for oid in usages]


def _camel(constant: str) -> str:
    first, *rest = constant.lower().split("_")
    return first + "".join(word.title() for word in rest)


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    shown = []
    for name in names:
        if isinstance(name, x509.DNSName):
            shown.append(f"DNS:{name.value}")
        elif isinstance(name, x509.IPAddress):
            shown.append(f"IP:{name.value}")
        elif isinstance(name, x509.UniformResourceIdentifier):
            shown.append(f"URI:{name.value}")
        elif isinstance(name, x509.RFC822Name):
            shown.append(f"email:{name.value}")
        else:
            shown.append(type(name).__name__)
    return shown


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def certificate_json(
    known: Known, cert: x509.Certificate, issuer_id: str | None, now: dt.datetime
) -> dict[str, Any]:
    return {
        "id": known.id,
        "name": known.name,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "issuer_id": issuer_id,
        "serial": f"{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "expired": not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc),
        "sha256": fingerprint(cert),
        "key": _key(cert),
        "ca": _is_ca(cert),
        "ekus": _ekus(cert),
        "sans": _sans(cert),
        "held_by": known.held_by,
        "purpose": known.purpose,
    }


def trusted_profiles(profiles: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The trusted certificate profiles' certificates, by SHA-256 fingerprint: the names of the
    profiles that deploy it."""
    found: dict[str, list[str]] = {}
    for profile in profiles:
        encoded = profile.get("trustedRootCertificate")
        if not isinstance(encoded, str):
            continue
        try:
            der = base64.b64decode(encoded, validate=True)
        except ValueError:
            continue
        found.setdefault(hashlib.sha256(der).hexdigest(), []).append(
            str(profile.get("displayName"))
        )
    return found


def trust_map(
    data: Path,
    now: dt.datetime,
    profiles: list[dict[str, Any]],
    health: dict[str, dict[str, Any]],
    held: dict[str, x509.Certificate] | None = None,
) -> dict[str, Any]:
    """What `GET /api/trust` answers. `profiles`: the cloud's device configurations (the
    trusted certificate ones put trust on devices); `health`: by party id, `up` and `detail`;
    `held`: the certificates the parties publish (NDES's RA pair from GetCACert, the
    connector's identity from its health), by id; the rest are the lab PKI's files."""
    held = held or {}
    loaded = [
        (k, c)
        for k in KNOWN
        if (c := held.get(k.id) if k.path is None else _read(data / k.path)) is not None
    ]
    by_subject: dict[bytes, str] = {}
    for known, cert in loaded:
        if _is_ca(cert):
            by_subject.setdefault(cert.subject.public_bytes(), known.id)
    certificates = []
    for known, cert in loaded:
        self_signed = cert.issuer == cert.subject
        issuer_id = None if self_signed else by_subject.get(cert.issuer.public_bytes(), "unknown")
        certificates.append(certificate_json(known, cert, issuer_id, now))
    present = {c["id"] for c in certificates}
    trust = [
        {"party": party, "anchor": anchor, "why": why}
        for party, anchor, why in _SETTINGS
        if anchor in present
    ]
    by_print = {c["sha256"]: c["id"] for c in certificates}
    roots = {c["id"] for c in certificates if c["issuer_id"] is None}
    for digest, names in trusted_profiles(profiles).items():
        anchor = by_print.get(digest)
        if anchor is None:
            continue
        quoted = ", ".join(f"“{name}”" for name in sorted(names))
        role = (
            "the SCEP profiles name it as their root certificate"
            if anchor in roots
            else "devices complete the chain of their certificates with it"
        )
        trust.append(
            {
                "party": "device",
                "anchor": anchor,
                "why": f"The trusted certificate profiles {quoted} install it on the devices "
                f"they are assigned to; {role}.",
            }
        )
    parties = []
    for party, name in PARTIES:
        said = health.get(party)
        parties.append(
            {
                "id": party,
                "name": name,
                "up": None if said is None else bool(said.get("up")),
                "detail": "" if said is None else str(said.get("detail", "")),
                "holds_note": HOLDS_NOTE.get(party),
            }
        )
    return {"certificates": certificates, "parties": parties, "trust": trust}


def ra_pair(certificates: tuple[x509.Certificate, ...]) -> dict[str, x509.Certificate]:
    """NDES's RA certificates among what GetCACert answers, by id: the one that signs (digital
    signature) and the one devices encrypt to (key encipherment)."""
    found: dict[str, x509.Certificate] = {}
    for cert in certificates:
        if _is_ca(cert):
            continue
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if usage.digital_signature:
            found.setdefault("ra-sign", cert)
        if usage.key_encipherment:
            found.setdefault("ra-encrypt", cert)
    return found
