"""Certificate and key files: read them with a clear error, write them atomically (keys 0600)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .errors import KeyFileError
from .keys import PrivateKey, load_private_key_pem, private_key_pem


def load_certificate_file(path: Path) -> x509.Certificate:
    """The (first) certificate in a PEM or DER file; `KeyFileError` saying which file is bad."""
    data = _read(path, "certificate")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a PEM or DER certificate ({exc})") from exc


def load_private_key_file(path: Path) -> PrivateKey:
    """The unencrypted RSA or EC private key in a PEM file; `KeyFileError` if it is not one."""
    data = _read(path, "private key")
    try:
        return load_private_key_pem(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not an unencrypted RSA or EC PEM private key ({exc})") from exc


def load_key_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, PrivateKey]:
    """A certificate and its private key, checked to belong together."""
    cert = load_certificate_file(cert_path)
    key = load_private_key_file(key_path)
    check_key_pair(cert, key, f"{key_path} and {cert_path}")
    return cert, key


def check_key_pair(cert: x509.Certificate, key: PrivateKey, where: str = "key pair") -> None:
    """`KeyFileError` unless `key` is the private half of `cert`'s public key."""
    if cert.public_key() != key.public_key():
        raise KeyFileError(
            f"{where}: the private key does not match the certificate "
            f"({cert.subject.rfc4514_string()}); restore the right key or delete both files"
        )


def write_certificate_file(path: Path, cert: x509.Certificate) -> None:
    """Write `cert` as PEM, atomically, mode 0644."""
    _write_atomic(path, cert.public_bytes(Encoding.PEM), 0o644)


def write_private_key_file(path: Path, key: PrivateKey) -> None:
    """Write `key` as unencrypted PKCS#8 PEM, atomically, mode 0600 from the start."""
    _write_atomic(path, private_key_pem(key), 0o600)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path}: {what} file not found") from exc
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read {what} file ({exc.strerror})") from exc


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    # mkstemp creates the file 0600; chmod before any byte is written, then rename into place
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
