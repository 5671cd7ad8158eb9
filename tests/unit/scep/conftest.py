"""A throwaway SCEP setup for codec tests: CA, the two NDES RA certificates, a device.

Built with cryptography alone so that the codec's tests depend on nothing but the codec.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def make_cert(
    cn: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
    *,
    key_usage: str | None = None,
    ca: bool = False,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    )
    if key_usage:
        flags = dict.fromkeys(
            (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ),
            False,
        )
        flags[key_usage] = True
        builder = builder.add_extension(x509.KeyUsage(**flags), True)
    return builder.sign(issuer_key or key, hashes.SHA256())


@dataclass(frozen=True)
class Party:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    def pem_files(self, folder: object) -> tuple[str, str]:
        from pathlib import Path

        base = Path(str(folder))
        cn = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        cert_path, key_path = base / f"{cn}.pem", base / f"{cn}.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return str(cert_path), str(key_path)


@dataclass(frozen=True)
class Setup:
    ca: Party
    ra_sign: Party
    ra_encrypt: Party
    device: Party
    csr_der: bytes

    @property
    def ca_ra(self) -> list[x509.Certificate]:
        return [self.ra_sign.cert, self.ra_encrypt.cert, self.ca.cert]

    def issue(self, subject: x509.Name) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.ca.cert.subject)
            .public_key(self.device.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=30))
            .sign(self.ca.key, hashes.SHA256())
        )


@pytest.fixture(scope="session")
def setup() -> Setup:
    ca_key = rsa.generate_private_key(65537, 2048)
    ca = make_cert("Test Issuing CA", ca_key, ca=True)
    sign_key = rsa.generate_private_key(65537, 2048)
    enc_key = rsa.generate_private_key(65537, 2048)
    dev_key = rsa.generate_private_key(65537, 2048)
    device = make_cert("device-1", dev_key)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(device.subject)
        .add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"8CE317021F690069")
        .sign(dev_key, hashes.SHA256())
    )
    return Setup(
        ca=Party(ca, ca_key),
        ra_sign=Party(
            make_cert("NDES RA Signing", sign_key, ca, ca_key, key_usage="digital_signature"),
            sign_key,
        ),
        ra_encrypt=Party(
            make_cert("NDES RA Encryption", enc_key, ca, ca_key, key_usage="key_encipherment"),
            enc_key,
        ),
        device=Party(device, dev_key),
        csr_der=csr.public_bytes(serialization.Encoding.DER),
    )
