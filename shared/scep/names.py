"""Conversions between cryptography's and asn1crypto's names and certificates."""

from __future__ import annotations

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from .errors import DecodeError


def name_to_asn1(name: x509.Name) -> asn1_x509.Name:
    return asn1_x509.Name.load(name.public_bytes())


def name_from_asn1(name: asn1_x509.Name) -> x509.Name:
    """An asn1crypto Name as a cryptography Name (attribute types and values kept)."""
    try:
        rdns = [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(x509.ObjectIdentifier(atv["type"].dotted), _text(atv))
                    for atv in rdn
                ]
            )
            for rdn in name.chosen
        ]
        return x509.Name(rdns)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DecodeError(f"malformed name: {exc}") from exc


def _text(atv: asn1_x509.NameTypeAndValue) -> str:
    value = atv["value"].native
    if isinstance(value, str):
        return value
    raise ValueError(f"name attribute {atv['type'].dotted} is not a string")
