"""Throwaway NDES-style test PKI: a self-signed CA plus an RA signing / RA encryption pair.

Everything is generated with ``cryptography`` (RSA-2048, SHA-256). Only for tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = ["CERT_REQUEST_AGENT_EKU", "RaSetup", "issue_cert", "make_ra_setup", "name"]

CERT_REQUEST_AGENT_EKU = ObjectIdentifier("1.3.6.1.4.1.311.20.2.1")


def name(**attrs: str) -> x509.Name:
    """``name(CN="x", O="y")`` -> x509.Name (attribute order as given)."""
    oids = {
        "CN": NameOID.COMMON_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "C": NameOID.COUNTRY_NAME,
        "L": NameOID.LOCALITY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
    }
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs.items()])


def _key_usage(
    *, digital_signature: bool = False, key_encipherment: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def issue_cert(
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    *,
    key_usage: x509.KeyUsage | None = None,
    eku: list[ObjectIdentifier] | None = None,
    ca: bool = False,
    days: int = 365,
) -> x509.Certificate:
    """Issue a certificate (self-signed when ``issuer_cert`` is None)."""
    now = dt.datetime.now(dt.UTC)
    issuer_name = subject if issuer_cert is None else issuer_cert.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    aki_key = issuer_key.public_key() if issuer_cert is None else issuer_cert.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_key),
        critical=False,  # type: ignore[arg-type]
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class RaSetup:
    ca_key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate
    ra_sign_key: rsa.RSAPrivateKey
    ra_sign_cert: x509.Certificate
    ra_enc_key: rsa.RSAPrivateKey
    ra_enc_cert: x509.Certificate

    @property
    def getcacert_chain(self) -> list[x509.Certificate]:
        """GetCACert order observed on NDES: RA signing, RA encryption, issuing CA."""
        return [self.ra_sign_cert, self.ra_enc_cert, self.ca_cert]

    def write_pem(self, directory: Path, prefix: str = "") -> dict[str, Path]:
        """Write ``ca.crt.pem``, ``ra-sign.*``, ``ra-encrypt.*`` (+ keys, unencrypted)."""
        directory.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        items: list[tuple[str, x509.Certificate, rsa.RSAPrivateKey]] = [
            ("ca", self.ca_cert, self.ca_key),
            ("ra-sign", self.ra_sign_cert, self.ra_sign_key),
            ("ra-encrypt", self.ra_enc_cert, self.ra_enc_key),
        ]
        for stem, cert, key in items:
            cpath = directory / f"{prefix}{stem}.crt.pem"
            kpath = directory / f"{prefix}{stem}.key.pem"
            cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            kpath.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            out[f"{stem}.crt"] = cpath
            out[f"{stem}.key"] = kpath
        return out


def make_ra_setup(key_size: int = 2048, org: str = "intune-scep-lab test") -> RaSetup:
    """A self-signed CA plus NDES-style RA certs issued by it (one key usage each)."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    ca_cert = issue_cert(
        name(CN="Test SCEP CA", O=org),
        ca_key.public_key(),
        None,
        ca_key,
        key_usage=_key_usage(digital_signature=True, cert_sign=True),
        ca=True,
        days=3650,
    )
    sign_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    sign_cert = issue_cert(
        name(CN="Test NDES RA Signing", O=org),
        sign_key.public_key(),
        ca_cert,
        ca_key,
        key_usage=_key_usage(digital_signature=True),
        eku=[CERT_REQUEST_AGENT_EKU],
        days=730,
    )
    enc_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    enc_cert = issue_cert(
        name(CN="Test NDES RA Encryption", O=org),
        enc_key.public_key(),
        ca_cert,
        ca_key,
        key_usage=_key_usage(key_encipherment=True),
        eku=[CERT_REQUEST_AGENT_EKU],
        days=730,
    )
    return RaSetup(ca_key, ca_cert, sign_key, sign_cert, enc_key, enc_cert)


def client_auth_eku() -> list[ObjectIdentifier]:
    return [ExtendedKeyUsageOID.CLIENT_AUTH]
