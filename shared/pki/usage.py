"""Key usage and extended key usage: names, OIDs, and the x509 extensions built from them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal, get_args

from cryptography import x509

KeyUsageName = Literal[
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
]
KEY_USAGE_NAMES: tuple[KeyUsageName, ...] = get_args(KeyUsageName)


class Eku(StrEnum):
    """Extended key usage OIDs the lab uses, as dotted strings."""

    SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
    CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
    CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
    EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4"
    OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"
    ANY = "2.5.29.37.0"
    CERTIFICATE_REQUEST_AGENT = "1.3.6.1.4.1.311.20.2.1"
    """Microsoft's Certificate Request Agent: NDES's RA and enrolment-agent certificates."""
    SMART_CARD_LOGON = "1.3.6.1.4.1.311.20.2.2"
    ENCRYPTING_FILE_SYSTEM = "1.3.6.1.4.1.311.10.3.4"


def build_key_usage(names: Iterable[str]) -> x509.KeyUsage:
    """The KeyUsage extension value with exactly the named bits set."""
    wanted = frozenset(names)
    unknown = wanted - frozenset(KEY_USAGE_NAMES)
    if unknown:
        raise ValueError(f"unknown key usage {sorted(unknown)}; known: {list(KEY_USAGE_NAMES)}")
    if not wanted:
        raise ValueError("a KeyUsage extension needs at least one usage")
    if wanted & {"encipher_only", "decipher_only"} and "key_agreement" not in wanted:
        raise ValueError("encipher_only and decipher_only need key_agreement")
    return x509.KeyUsage(**{name: name in wanted for name in KEY_USAGE_NAMES})


def read_key_usage(usage: x509.KeyUsage) -> frozenset[KeyUsageName]:
    """The names of the bits a KeyUsage extension sets."""
    names: set[KeyUsageName] = set()
    for name in KEY_USAGE_NAMES:
        if name in ("encipher_only", "decipher_only") and not usage.key_agreement:
            continue  # cryptography raises when reading these without key_agreement
        if getattr(usage, name):
            names.add(name)
    return frozenset(names)


def build_extended_key_usage(oids: Iterable[str]) -> x509.ExtendedKeyUsage:
    """The ExtendedKeyUsage extension value for dotted OID strings, in the order given."""
    return x509.ExtendedKeyUsage([x509.ObjectIdentifier(str(oid)) for oid in oids])


def read_extended_key_usage(usage: x509.ExtendedKeyUsage) -> tuple[str, ...]:
    """The dotted OID strings of an ExtendedKeyUsage extension, in order."""
    return tuple(oid.dotted_string for oid in usage)
