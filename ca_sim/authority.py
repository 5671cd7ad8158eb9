"""The CA's keys and what it signs: issued certificates, and where they point (AIA, CDP).

The lab PKI's files (`shared.pki.labpki`) hold the offline root and the issuing CA under the
labels `root-ca` and `issuing-ca`. `load_authority` checks them at start-up and says which file
is wrong; `build_default_pki` makes the whole lab PKI when there is none yet.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from shared.pki import (
    CertProfile,
    CsrInfo,
    KeyFileError,
    LabCert,
    LabPkiError,
    PrivateKey,
    build_lab_pki,
    default_lab_spec,
    issue_certificate,
    load_certificate_file,
    load_key_pair,
)

from .errors import CaConfigError, MalformedInput
from .records import NewCertificate
from .templates import Template

CLOCK_SKEW = timedelta(minutes=10)
"""AD CS backdates notBefore by ClockSkewMinutes (10 by default) for clients whose clocks lag."""
CA_LABELS = (LabCert.ROOT_CA, LabCert.ISSUING_CA)
MAX_SERIAL_HEX = 40  # 20 octets (RFC 5280 4.1.2.2)


@dataclass(frozen=True, eq=False)
class Authority:
    """The root and issuing CA certificates and keys, and the public URL they are served at."""

    root_cert: x509.Certificate
    root_key: PrivateKey
    issuing_cert: x509.Certificate
    issuing_key: PrivateKey
    base_url: str

    def url(self, name: str) -> str:
        return f"{self.base_url.rstrip('/')}/pki/{name}"

    @property
    def aia_url(self) -> str:
        return self.url("issuing.crt")

    @property
    def cdp_url(self) -> str:
        return self.url("issuing.crl")

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuing CA up to the root, as `RequestResult.chain` lists them."""
        return (self.issuing_cert, self.root_cert)


def ca_files(pki_dir: Path) -> tuple[Path, ...]:
    return tuple(
        path for label in CA_LABELS for path in (_cert(pki_dir, label), _key(pki_dir, label))
    )


def build_default_pki(pki_dir: Path, base_url: str, now: datetime) -> None:
    """Make the lab PKI (`default_lab_spec`, a fresh random seed) in `pki_dir`."""
    spec = default_lab_spec(
        secrets.token_bytes(32), now - timedelta(hours=1), ca_base_url=base_url.rstrip("/")
    )
    try:
        build_lab_pki(spec, pki_dir)
    except (LabPkiError, OSError) as exc:
        raise CaConfigError(f"cannot build the lab PKI in {pki_dir}: {exc}") from exc


def load_authority(pki_dir: Path, base_url: str) -> Authority:
    """The CA's two key pairs from `pki_dir`; `CaConfigError` naming the file that is wrong."""
    try:
        root_cert, root_key = load_key_pair(
            _cert(pki_dir, LabCert.ROOT_CA), _key(pki_dir, LabCert.ROOT_CA)
        )
        issuing_cert, issuing_key = load_key_pair(
            _cert(pki_dir, LabCert.ISSUING_CA), _key(pki_dir, LabCert.ISSUING_CA)
        )
    except KeyFileError as exc:
        raise CaConfigError(f"the CA's key files are not usable: {exc}") from exc
    where = _cert(pki_dir, LabCert.ISSUING_CA)
    try:
        issuing_cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CaConfigError(
            f"{where} is not issued by the root CA in {_cert(pki_dir, LabCert.ROOT_CA)}"
        ) from exc
    try:
        constraints = issuing_cert.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = constraints.value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CaConfigError(f"{where} is not a CA certificate (basicConstraints cA is not set)")
    return Authority(root_cert, root_key, issuing_cert, issuing_key, base_url)


def issue_for_request(
    authority: Authority,
    csr: CsrInfo,
    template: Template,
    *,
    requester: str,
    now: datetime,
    serial: int,
) -> x509.Certificate:
    """The certificate `template` makes of `csr`: subject and SANs from the request, usage,
    EKUs and validity from the template, AIA and CDP pointing at this CA."""
    public_key = csr.public_key
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError(f"cannot issue for a {csr.key_kind} key")  # the policy refused it first
    subject = (
        csr.subject
        if template.subject_from_request
        else x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, requester)])
    )
    profile = CertProfile(
        validity=template.validity + CLOCK_SKEW,  # notAfter = now + validity
        key_usage=template.key_usage,
        ekus=template.ekus,
        aia_urls=(authority.aia_url,),
        cdp_urls=(authority.cdp_url,),
    )
    return issue_certificate(
        subject=subject,
        public_key=public_key,
        issuer_cert=authority.issuing_cert,
        issuer_key=authority.issuing_key,
        serial=serial,
        not_before=now - CLOCK_SKEW,
        profile=profile,
        sans=csr.sans,
    )


def serial_hex(serial: int) -> str:
    """A serial number as AD CS shows it: lower-case hex, an even number of digits."""
    text = format(serial, "x")
    return text if len(text) % 2 == 0 else "0" + text


def parse_serial(text: str) -> str:
    """A serial typed by a person or a program (spaces, colons, `0x`, any case) → `serial_hex`."""
    cleaned = "".join(text.split()).replace(":", "").lower().removeprefix("0x")
    if not cleaned or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise MalformedInput(f"serial number {text!r} is not hexadecimal")
    value = int(cleaned, 16)
    if value == 0 or len(format(value, "x")) > MAX_SERIAL_HEX:
        raise MalformedInput(f"serial number {text!r} is not a positive number of <= 20 octets")
    return serial_hex(value)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def certificate_values(cert: x509.Certificate) -> NewCertificate:
    """What the CA database keeps of a certificate it issued."""
    return NewCertificate(
        serial=serial_hex(cert.serial_number),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        der=der(cert),
    )


def _cert(pki_dir: Path, label: str) -> Path:
    return pki_dir / f"{label}.pem"


def _key(pki_dir: Path, label: str) -> Path:
    return pki_dir / f"{label}.key.pem"


LAB_RA_TEMPLATES: dict[str, str] = {
    LabCert.NDES_RA_SIGN: "EnrollmentAgentOffline",
    LabCert.NDES_RA_ENCRYPT: "CEPEncryption",
    LabCert.NDES_ENROLLMENT_AGENT: "EnrollmentAgentOffline",
}
"""The lab PKI build's certificates that the issuing CA signed, and their templates."""


def lab_issued_certificates(
    pki_dir: Path, authority: Authority
) -> list[tuple[x509.Certificate, str]]:
    """The lab PKI's NDES RA certificates found in `pki_dir` that this issuing CA signed."""
    found: list[tuple[x509.Certificate, str]] = []
    for label, template in LAB_RA_TEMPLATES.items():
        path = _cert(pki_dir, label)
        if not path.exists():
            continue
        try:
            cert = load_certificate_file(path)
            cert.verify_directly_issued_by(authority.issuing_cert)
        except (KeyFileError, ValueError, TypeError, InvalidSignature):
            continue  # not ours: nothing to adopt
        found.append((cert, template))
    return found
