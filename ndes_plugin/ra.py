"""NDES's RA credentials: the two RA certificates, their keys, and the CA chain they hang from.

As on real NDES, the RA signing certificate (template EnrollmentAgentOffline: digitalSignature,
Certificate Request Agent) signs CertReps and is also the enrolment-agent certificate that
countersigns each request sent to the CA; the RA encryption certificate (CEPEncryption:
keyEncipherment) is what devices encrypt to. Each has its own RSA key.

At start, `load_or_obtain` reads them from the data folder (PEM; keys 0600) and asks the CA for
a new certificate — with a fresh key — for each one that is missing, out of date by the clock, or
not issued by the current issuing CA. A key file that exists but is corrupt or does not match its
certificate stops the start-up with the file's name: it is never silently replaced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from shared.api.ca import Disposition
from shared.pki import (
    CsrSpec,
    KeySpec,
    KeyUsageName,
    build_csr,
    check_key_pair,
    generate_key,
    load_certificate_file,
    load_private_key_file,
    write_certificate_file,
    write_private_key_file,
)

from .ca import CaChain, CertificateAuthority
from .errors import RaUnavailable
from .logs import get_logger

log = get_logger(__name__)

ISSUING_FILE = "ca-issuing.crt.pem"
ROOT_FILE = "ca-root.crt.pem"


@dataclass(frozen=True)
class RaRole:
    label: str  # file stem
    template: str
    key_usage: frozenset[KeyUsageName]

    @property
    def cert_file(self) -> str:
        return f"{self.label}.crt.pem"

    @property
    def key_file(self) -> str:
        return f"{self.label}.key.pem"


def ra_roles(signing_template: str, encryption_template: str) -> tuple[RaRole, RaRole]:
    return (
        RaRole("ra-sign", signing_template, frozenset({"digital_signature"})),
        RaRole("ra-encrypt", encryption_template, frozenset({"key_encipherment"})),
    )


@dataclass(frozen=True)
class RaCredentials:
    sign_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    encrypt_cert: x509.Certificate
    encrypt_key: rsa.RSAPrivateKey
    chain: CaChain

    @property
    def get_ca_cert_set(self) -> tuple[x509.Certificate, ...]:
        """GetCACert's order, as observed on NDES: RA signing, RA encryption, issuing CA, root."""
        return (self.sign_cert, self.encrypt_cert, self.chain.issuing, self.chain.root)

    def expired(self, now: dt.datetime) -> bool:
        return not (in_date(self.sign_cert, now) and in_date(self.encrypt_cert, now))


def in_date(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if `issuer` signed `cert` (names match and the signature verifies)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _load_cached_chain(folder: Path) -> CaChain | None:
    issuing, root = folder / ISSUING_FILE, folder / ROOT_FILE
    if not (issuing.exists() and root.exists()):
        return None
    return CaChain(load_certificate_file(issuing), load_certificate_file(root))


def _store_chain(folder: Path, chain: CaChain) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_certificate_file(folder / ISSUING_FILE, chain.issuing)
    write_certificate_file(folder / ROOT_FILE, chain.root)


def _load_role(
    folder: Path, role: RaRole, chain: CaChain, now: dt.datetime
) -> tuple[x509.Certificate, rsa.RSAPrivateKey] | None:
    cert_path, key_path = folder / role.cert_file, folder / role.key_file
    if not (cert_path.exists() and key_path.exists()):
        return None
    cert = load_certificate_file(cert_path)
    key = load_private_key_file(key_path)
    check_key_pair(cert, key, f"{key_path} and {cert_path}")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise RaUnavailable(f"{key_path}: the RA key must be RSA")
    if not in_date(cert, now):
        until = cert.not_valid_after_utc.isoformat()
        log.warning("%s is out of date (until %s): renewing it", cert_path, until)
        return None
    if not issued_by(cert, chain.issuing):
        log.warning("%s was not issued by the current issuing CA: renewing it", cert_path)
        return None
    return cert, key


async def _obtain_role(
    folder: Path, role: RaRole, subject: x509.Name, ca: CertificateAuthority, key_size: int
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = generate_key(KeySpec.rsa(key_size))
    if not isinstance(key, rsa.RSAPrivateKey):  # pragma: no cover - KeySpec.rsa makes RSA keys
        raise TypeError("expected an RSA key")
    csr = build_csr(key, CsrSpec(subject=subject, key_usage=role.key_usage))
    result = await ca.submit_own(csr.public_bytes(Encoding.DER), role.template)
    if result.disposition is not Disposition.ISSUED or result.certificate is None:
        raise RaUnavailable(
            f"the CA answered the {role.template} request for NDES's {role.label} certificate "
            f"with disposition {result.disposition.name} ({result.message}, "
            f"0x{result.hresult:08X}); request ID {result.request_id}"
        )
    cert = result.certificate
    if cert.public_key() != key.public_key():
        raise RaUnavailable(f"the CA issued a {role.label} certificate for another key")
    write_private_key_file(folder / role.key_file, key)
    write_certificate_file(folder / role.cert_file, cert)
    log.info(
        "obtained %s certificate %s (template %s, until %s)",
        role.label,
        format(cert.serial_number, "X"),
        role.template,
        cert.not_valid_after_utc.isoformat(),
    )
    return cert, key


async def load_or_obtain(
    folder: Path,
    *,
    ca: CertificateAuthority,
    chain: CaChain,
    roles: tuple[RaRole, RaRole],
    subject: x509.Name,
    now: dt.datetime,
    key_size: int = 2048,
) -> RaCredentials:
    """The RA credentials from `folder`, obtaining from the CA whatever is missing or stale."""
    _store_chain(folder, chain)
    pairs = []
    for role in roles:
        pair = _load_role(folder, role, chain, now)
        if pair is None:
            pair = await _obtain_role(folder, role, subject, ca, key_size)
        pairs.append(pair)
    (sign_cert, sign_key), (encrypt_cert, encrypt_key) = pairs
    return RaCredentials(sign_cert, sign_key, encrypt_cert, encrypt_key, chain)


def cached_chain(folder: Path) -> CaChain | None:
    """The chain saved by the last start, for starting while the CA is unreachable."""
    return _load_cached_chain(folder)
