"""Subject alternative names as plain (kind, value) pairs, and their x509 GeneralNames.

Kinds: 'dns', 'email' (rfc822Name), 'uri', 'upn' (otherName 1.3.6.1.4.1.311.20.2.3 holding a
UTF8String), 'ip', and, only when read back, 'other' for anything else. Intune's SID goes in a URI,
`tag:microsoft.com,2022-09-14:sid:<SID>`: `sid_san` builds it and `read_sid` finds it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Literal, NamedTuple

from asn1crypto import core
from cryptography import x509

SanKind = Literal["dns", "email", "uri", "upn", "ip", "other"]

UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
SID_URI_PREFIX = "tag:microsoft.com,2022-09-14:sid:"


class San(NamedTuple):
    """One subject alternative name; a tuple, so `San("dns", "a.test") == ("dns", "a.test")`."""

    kind: SanKind
    value: str


def sid_san(sid: str) -> San:
    """The URI SAN that carries a Windows SID the way Intune and AD CS expect it."""
    if not sid.startswith("S-1-"):
        raise ValueError(f"not a SID: {sid!r}")
    return San("uri", SID_URI_PREFIX + sid)


def read_sid(sans: Iterable[San]) -> str | None:
    """The SID carried in a `tag:microsoft.com,2022-09-14:sid:` URI, if any."""
    for kind, value in sans:
        if kind == "uri" and value.startswith(SID_URI_PREFIX):
            return value[len(SID_URI_PREFIX) :]
    return None


def build_general_name(san: San | tuple[str, str]) -> x509.GeneralName:
    kind, value = san
    if kind == "dns":
        return x509.DNSName(value)
    if kind == "email":
        return x509.RFC822Name(value)
    if kind == "uri":
        return x509.UniformResourceIdentifier(value)
    if kind == "upn":
        return x509.OtherName(UPN_OID, core.UTF8String(value).dump())
    if kind == "ip":
        return x509.IPAddress(ipaddress.ip_address(value))
    raise ValueError(f"cannot build a {kind!r} SAN; kinds: dns, email, uri, upn, ip")


def build_subject_alternative_name(
    sans: Iterable[San | tuple[str, str]],
) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([build_general_name(san) for san in sans])


def read_general_name(name: x509.GeneralName) -> San:
    """A GeneralName as a San; kinds the lab does not build come back as 'other'."""
    if isinstance(name, x509.DNSName):
        return San("dns", name.value)
    if isinstance(name, x509.RFC822Name):
        return San("email", name.value)
    if isinstance(name, x509.UniformResourceIdentifier):
        return San("uri", name.value)
    if isinstance(name, x509.IPAddress):
        return San("ip", str(name.value))
    if isinstance(name, x509.OtherName):
        if name.type_id == UPN_OID:
            upn = _read_utf8(name.value)
            if upn is not None:
                return San("upn", upn)
        return San("other", f"{name.type_id.dotted_string}:{name.value.hex()}")
    if isinstance(name, x509.DirectoryName):
        return San("other", f"dirName:{name.value.rfc4514_string()}")
    if isinstance(name, x509.RegisteredID):
        return San("other", f"registeredID:{name.value.dotted_string}")
    return San("other", repr(name))


def read_subject_alternative_name(ext: x509.SubjectAlternativeName) -> tuple[San, ...]:
    return tuple(read_general_name(name) for name in ext)


def _read_utf8(der: bytes) -> str | None:
    """The text of a DER UTF8String (or, tolerantly, another string type); None if it is not one."""
    try:
        value = core.load(der, strict=True)
        if isinstance(value, core.AbstractString):
            text = value.native
            return text if isinstance(text, str) else None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return None
    return None
