"""Subject names: the profile's subject string parsed into an `x509.Name`, and name equality.

Intune's subject name format follows Windows' CertStrToName (an X.500 string: `CN=…,E=…,OU=…`,
values optionally in double quotes, `;` also separating RDNs); RFC 4514 strings are accepted too,
with their backslash escapes. Microsoft's attribute keywords (E, S, T, G, SERIALNUMBER…) are known,
case-insensitively, besides RFC 4514's, and any dotted OID (`OID.` prefix optional). The string
order is RFC 4514's: the last RDN written is the first one encoded.

Both spellings of a comma inside a value give the same name here: `CN="Smith, John"` and
`CN=Smith\\, John`. What the *device* makes of them is another matter: Windows' parser does not
treat a backslash as an escape, so the escaped form reaches the validation as a different name and
fails with SubjectNameMismatch, as in Microsoft's troubleshooting article — the quoted form is
Microsoft's documented workaround.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from .errors import SubjectFormatError

_KEYWORDS: dict[str, x509.ObjectIdentifier] = {
    "CN": NameOID.COMMON_NAME,
    "E": NameOID.EMAIL_ADDRESS,
    "EMAIL": NameOID.EMAIL_ADDRESS,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "L": NameOID.LOCALITY_NAME,
    "S": NameOID.STATE_OR_PROVINCE_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "C": NameOID.COUNTRY_NAME,
    "DC": NameOID.DOMAIN_COMPONENT,
    "STREET": NameOID.STREET_ADDRESS,
    "T": NameOID.TITLE,
    "TITLE": NameOID.TITLE,
    "G": NameOID.GIVEN_NAME,
    "GN": NameOID.GIVEN_NAME,
    "GIVENNAME": NameOID.GIVEN_NAME,
    "SN": NameOID.SURNAME,
    "I": NameOID.INITIALS,
    "INITIALS": NameOID.INITIALS,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,
    "UID": NameOID.USER_ID,
    "POSTALCODE": NameOID.POSTAL_CODE,
    "DESCRIPTION": x509.ObjectIdentifier("2.5.4.13"),
}
_OID = re.compile(r"(?:OID\.)?([0-2](?:\.[0-9]+)+)", re.IGNORECASE)
_SPECIAL = set('\\,+";<>=#')


def parse_subject(text: str) -> x509.Name:
    """The name a subject string denotes; SubjectFormatError if it is not one ("" → empty name)."""
    rdns: list[list[tuple[str, str]]] = [[]]
    position, length = 0, len(text)
    if not text.strip():
        return x509.Name([])
    while True:
        equals = text.find("=", position)
        if equals < 0:
            raise SubjectFormatError(f"{text!r}: expected TYPE=value at offset {position}")
        keyword = text[position:equals].strip()
        position = equals + 1
        while position < length and text[position] == " ":
            position += 1
        if position < length and text[position] == '"':
            value, position = _quoted(text, position)
        else:
            value, position = _unquoted(text, position)
        rdns[-1].append((keyword, value))
        if position >= length:
            break
        if text[position] == "+":
            position += 1
        else:  # ',' or ';'
            rdns.append([])
            position += 1
    return _build(text, rdns)


def _quoted(text: str, position: int) -> tuple[str, int]:
    """A "quoted value" ('""' and '\\"' are quotes within it); returns it and where it ends."""
    out: list[str] = []
    index = position + 1
    while True:
        if index >= len(text):
            raise SubjectFormatError(f"{text!r}: unterminated quoted value")
        char = text[index]
        if char == '"' and text[index + 1 : index + 2] == '"':
            out.append('"')
            index += 2
        elif char == '"':
            index += 1
            break
        elif char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    while index < len(text) and text[index] == " ":
        index += 1
    if index < len(text) and text[index] not in ",;+":
        raise SubjectFormatError(f"{text!r}: text after a quoted value at offset {index}")
    return "".join(out), index


def _unquoted(text: str, position: int) -> tuple[str, int]:
    """An unquoted value with RFC 4514 escapes, unescaped spaces around it trimmed."""
    out: list[str] = []
    kept = 0  # length of `out` up to the last character that is not a plain space
    index = position
    while index < len(text) and text[index] not in ",;+":
        char = text[index]
        if char == "\\":
            pair = text[index + 1 : index + 3]
            if re.fullmatch(r"[0-9A-Fa-f]{2}", pair):
                raw, index = _hex_run(text, index)
                out.append(raw)
            elif pair[:1] and pair[0] in _SPECIAL | {" "}:
                out.append(pair[0])
                index += 2
            else:
                raise SubjectFormatError(f"{text!r}: bad escape at offset {index}")
            kept = len(out)
            continue
        out.append(char)
        index += 1
        if char != " ":
            kept = len(out)
    return "".join(out[:kept]), index


def _hex_run(text: str, index: int) -> tuple[str, int]:
    """Consecutive \\XX escapes decoded together as UTF-8."""
    data = bytearray()
    while re.fullmatch(r"\\[0-9A-Fa-f]{2}", text[index : index + 3]):
        data.append(int(text[index + 1 : index + 3], 16))
        index += 3
    try:
        return data.decode("utf-8"), index
    except UnicodeDecodeError:
        raise SubjectFormatError(f"{text!r}: hex escapes that are not UTF-8") from None


def _build(text: str, rdns: list[list[tuple[str, str]]]) -> x509.Name:
    built: list[x509.RelativeDistinguishedName] = []
    for rdn in reversed(rdns):  # RFC 4514 writes the last RDN first
        attributes = []
        for keyword, value in rdn:
            oid = _oid(text, keyword)
            try:
                attributes.append(x509.NameAttribute(oid, value))
            except ValueError as exc:
                raise SubjectFormatError(f"{text!r}: {keyword}: {exc}") from exc
        try:
            built.append(x509.RelativeDistinguishedName(attributes))
        except ValueError as exc:
            raise SubjectFormatError(f"{text!r}: {exc}") from exc
    return x509.Name(built)


def _oid(text: str, keyword: str) -> x509.ObjectIdentifier:
    known = _KEYWORDS.get(keyword.upper())
    if known is not None:
        return known
    dotted = _OID.fullmatch(keyword)
    if dotted is None:
        raise SubjectFormatError(f"{text!r}: unknown attribute type {keyword!r}")
    return x509.ObjectIdentifier(dotted.group(1))


def same_name(a: x509.Name, b: x509.Name) -> bool:
    """Distinguished-name equality as the validation applies it: the same RDNs in the same
    order, each the same set of (type, value), values compared exactly (case and spaces count),
    whatever ASN.1 string type carried them."""
    return _rdns(a) == _rdns(b)


def _rdns(name: x509.Name) -> list[frozenset[tuple[str, str | bytes]]]:
    return [frozenset((attr.oid.dotted_string, attr.value) for attr in rdn) for rdn in name.rdns]
