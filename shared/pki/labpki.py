"""Build the lab PKI declared by a `LabPkiSpec` into a folder, and read it back as a `LabPki`.

Each certificate becomes `<label>.pem` (the certificate) and `<label>.key.pem` (its PKCS#8 key,
mode 0600). Everything is derived from the spec's seed and not_before (keys by `derive_key`,
serials by `serial_from`, PKCS#1 v1.5 signatures), so two builds of one spec are byte-identical,
and several processes building the same folder at once write the same bytes.

A folder that already holds a certificate and key for a label is reused as it is, never rewritten:
delete both files to regenerate one (and everything it issued). Reused files are checked: the key
must match the certificate and the certificate must verify against its issuer's, or the build stops
with a `LabPkiError` naming the files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import KeyFileError, LabPkiError, UnknownLabel
from .files import (
    check_key_pair,
    load_certificate_file,
    load_private_key_file,
    write_certificate_file,
    write_private_key_file,
)
from .issue import issue_certificate, serial_from
from .keys import PrivateKey, derive_key
from .labspec import CertSpec, LabCert, LabPkiSpec, default_lab_spec

__all__ = ["CertSpec", "LabCert", "LabPki", "LabPkiSpec", "build_lab_pki", "default_lab_spec"]


@dataclass(frozen=True, eq=False)
class LabPki:
    """The built lab PKI: certificates, keys and file paths by label."""

    folder: Path
    spec: LabPkiSpec
    certs: Mapping[str, x509.Certificate]
    keys: Mapping[str, PrivateKey]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(spec.label for spec in self.spec.certs)

    def cert(self, label: str) -> x509.Certificate:
        return self.certs[self._known(label)]

    def key(self, label: str) -> PrivateKey:
        return self.keys[self._known(label)]

    def chain(self, label: str) -> tuple[x509.Certificate, ...]:
        """The certificate and its issuers, leaf first, root (self-signed) last."""
        chain: list[x509.Certificate] = []
        current: str | None = self._known(label)
        while current is not None:
            chain.append(self.certs[current])
            current = self.spec.get(current).issuer
        return tuple(chain)

    def chain_pem(self, label: str, *, include_root: bool = True) -> bytes:
        chain = self.chain(label)
        if not include_root and len(chain) > 1:
            chain = chain[:-1]
        return b"".join(cert.public_bytes(Encoding.PEM) for cert in chain)

    def path(self, label: str) -> Path:
        """The certificate's PEM file."""
        return self.folder / f"{self._known(label)}.pem"

    def key_path(self, label: str) -> Path:
        """The private key's PEM file (mode 0600 when the lab wrote it)."""
        return self.folder / f"{self._known(label)}.key.pem"

    def _known(self, label: str) -> str:
        if label not in self.certs:
            raise UnknownLabel(f"no certificate labelled {label!r}; labels: {list(self.labels)}")
        return str(label)


def build_lab_pki(spec: LabPkiSpec, folder: Path) -> LabPki:
    """Make (or reuse) every certificate of `spec` in `folder`, issuers first."""
    folder.mkdir(parents=True, exist_ok=True)
    certs: dict[str, x509.Certificate] = {}
    keys: dict[str, PrivateKey] = {}
    for cert_spec in spec.certs:
        cert, key = _build_one(spec, cert_spec, folder, certs, keys)
        certs[cert_spec.label], keys[cert_spec.label] = cert, key
    return LabPki(folder, spec, MappingProxyType(certs), MappingProxyType(keys))


def _build_one(
    spec: LabPkiSpec,
    cert_spec: CertSpec,
    folder: Path,
    certs: Mapping[str, x509.Certificate],
    keys: Mapping[str, PrivateKey],
) -> tuple[x509.Certificate, PrivateKey]:
    label = cert_spec.label
    cert_path, key_path = folder / f"{label}.pem", folder / f"{label}.key.pem"
    issuer = None if cert_spec.issuer is None else certs[cert_spec.issuer]
    have_cert, have_key = cert_path.exists(), key_path.exists()
    try:
        if have_cert and have_key:
            cert, key = load_certificate_file(cert_path), load_private_key_file(key_path)
            check_key_pair(cert, key, f"{key_path} and {cert_path}")
            _check_issued_by(cert, cert if issuer is None else issuer, cert_path)
            return cert, key
        # Half a pair is what a crash (or a concurrent build) between the two writes leaves:
        # complete it only if the half that is there is what this spec derives.
        key = derive_key(cert_spec.key, spec.seed, label)
        if have_key and load_private_key_file(key_path).public_key() != key.public_key():
            raise KeyFileError(f"{key_path}: not the key this spec derives; {cert_path} is missing")
        if have_cert:
            cert = load_certificate_file(cert_path)
            check_key_pair(cert, key, f"{cert_path} (no {key_path.name}) and the derived key")
            _check_issued_by(cert, cert if issuer is None else issuer, cert_path)
        else:
            cert = _issue(spec, cert_spec, key, issuer, keys)
    except KeyFileError as exc:
        raise LabPkiError(f"cannot reuse the lab PKI files for {label!r}: {exc}") from exc
    if not have_key:
        write_private_key_file(key_path, key)
    if not have_cert:
        write_certificate_file(cert_path, cert)
    return cert, key


def _issue(
    spec: LabPkiSpec,
    cert_spec: CertSpec,
    key: PrivateKey,
    issuer: x509.Certificate | None,
    keys: Mapping[str, PrivateKey],
) -> x509.Certificate:
    issuer_key = key if cert_spec.issuer is None else keys[cert_spec.issuer]
    return issue_certificate(
        subject=cert_spec.subject,
        public_key=key.public_key(),
        issuer_cert=issuer,
        issuer_key=issuer_key,
        serial=serial_from(spec.seed, cert_spec.label),
        not_before=spec.not_before,
        profile=cert_spec.profile(),
        sans=cert_spec.sans,
    )


def _check_issued_by(cert: x509.Certificate, issuer: x509.Certificate, where: Path) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise KeyFileError(
            f"{where}: not issued by {issuer.subject.rfc4514_string()} ({exc or 'bad signature'})"
        ) from exc
