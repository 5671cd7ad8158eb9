"""The connector's identity key pair on disk: `write_identity` (sign-in and renewal write both
files atomically) and `check_identity` (start-up: both files readable and belonging together).

The files are `identity.key` (0600) and `identity.pem` in the data folder unless
`CONNECTOR_IDENTITY_KEY_PATH` / `CONNECTOR_IDENTITY_CERT_PATH` name others.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.pki import KeyFileError, PrivateKey, load_key_pair, private_key_pem

from .settings import IDENTITY_CERT_FILE, IDENTITY_KEY_FILE, ConnectorSettings


def write_identity(
    data_dir: Path,
    key: PrivateKey,
    certificate: x509.Certificate,
    *,
    key_path: Path | None = None,
    cert_path: Path | None = None,
) -> None:
    """Write the key (0600 from the start) and the certificate (0644) atomically: both go to
    temporary files beside their final names, and are renamed into place only when both are
    written. By default `data_dir/identity.key` and `data_dir/identity.pem`."""
    key_path = key_path or data_dir / IDENTITY_KEY_FILE
    cert_path = cert_path or data_dir / IDENTITY_CERT_FILE
    staged: list[tuple[Path, Path]] = []
    try:
        for final, data, mode in (
            (key_path, private_key_pem(key), 0o600),
            (cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644),
        ):
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
            staged.append((Path(temp), final))
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), mode)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for temp_path, final in staged:
            os.replace(temp_path, final)
    except BaseException:
        for temp_path, _ in staged:
            temp_path.unlink(missing_ok=True)
        raise


def write_settings_identity(
    settings: ConnectorSettings, key: PrivateKey, certificate: x509.Certificate
) -> None:
    """`write_identity` to the paths the settings name (the renewal writes there)."""
    write_identity(
        settings.data_dir,
        key,
        certificate,
        key_path=settings.effective_identity_key_path,
        cert_path=settings.effective_identity_cert_path,
    )


def check_identity(settings: ConnectorSettings) -> x509.Certificate:
    """The identity certificate, once its key file is known to hold its private key.

    `KeyFileError` names the file that is missing or unreadable, or both files when the key
    does not belong to the certificate."""
    cert_path = settings.effective_identity_cert_path
    key_path = settings.effective_identity_key_path
    try:
        cert, _ = load_key_pair(cert_path, key_path)
    except KeyFileError as exc:
        raise KeyFileError(f"the connector's identity is unusable: {exc}") from exc
    return cert
