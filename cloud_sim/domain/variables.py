"""Profile variables: `{{DeviceName}}`, `{{UserPrincipalName}}`… resolved per device and user.

The variables are Intune's (intune-api.md §4, PROFILE), matched case-insensitively
(`{{SERIALNUMBER}}` is `{{SerialNumber}}`). A variable the device, its platform or the certificate
type cannot supply raises `UnresolvedVariable`: Intune then fails the profile on that device (an
IMEI on a laptop without a modem, a user variable in a device certificate, a name Intune does not
know). Values are substituted verbatim: quoting a value that holds commas is the administrator's
job (`CN="{{OnPrem_Distinguished_Name}}"`), as in Intune.

`build_expected_subject` and `build_expected_sans` turn a SCEP profile's subject and SAN settings
into what the challenge expects of the CSR.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from shared.pki import sid_san

from .claims import SanType
from .errors import ProfileError, UnresolvedVariable
from .subject import parse_subject

Platform = Literal["windows", "ios", "macos", "android"]


@dataclass(frozen=True, kw_only=True)
class DeviceFacts:
    """What Intune knows of a managed device. None: the device does not have or report it."""

    intune_device_id: str
    platform: Platform
    device_name: str | None = None
    serial_number: str | None = None
    imei: str | None = None
    meid: str | None = None
    entra_device_id: str | None = None
    wifi_mac: str | None = None
    fqdn: str | None = None
    on_prem_sid: str | None = None  # a hybrid-joined device's SID, synced from AD


@dataclass(frozen=True, kw_only=True)
class UserFacts:
    """What Entra ID knows of a user; the on-premises attributes come from AD sync."""

    upn: str
    email: str | None = None
    user_name: str | None = None  # sAMAccountName-like short name
    on_prem_sid: str | None = None
    on_prem_dn: str | None = None
    on_prem_sam_account_name: str | None = None


_Getter = Callable[[DeviceFacts, UserFacts | None], str | None]


@dataclass(frozen=True)
class _Variable:
    name: str  # Intune's spelling
    scope: Literal["device", "user", "either"]
    get: _Getter
    platforms: frozenset[Platform] | None = None  # None: every platform


def _device(name: str, attribute: str, platforms: set[Platform] | None = None) -> _Variable:
    def get(device: DeviceFacts, user: UserFacts | None) -> str | None:
        value: str | None = getattr(device, attribute)
        return value

    return _Variable(name, "device", get, None if platforms is None else frozenset(platforms))


def _user(name: str, attribute: str) -> _Variable:
    def get(device: DeviceFacts, user: UserFacts | None) -> str | None:
        value: str | None = getattr(user, attribute)
        return value

    return _Variable(name, "user", get)


def _sid(device: DeviceFacts, user: UserFacts | None) -> str | None:
    # a user certificate carries the user's SID; a device certificate the (hybrid) device's
    return device.on_prem_sid if user is None else user.on_prem_sid


_TABLE = (
    _device("AAD_Device_ID", "entra_device_id"),
    _device("AzureADDeviceId", "entra_device_id"),
    _device("DeviceId", "intune_device_id"),
    _device("Device_Serial", "serial_number"),
    _device("SerialNumber", "serial_number"),
    _device("Device_IMEI", "imei"),
    _device("IMEINumber", "imei"),
    _device("IMEI", "imei"),
    _device("MEID", "meid"),
    _device("WiFiMacAddress", "wifi_mac"),
    _device("DeviceName", "device_name"),
    # "Only applicable for Windows and domain-joined devices" (PROFILE)
    _device("FullyQualifiedDomainName", "fqdn", {"windows"}),
    _user("UserName", "user_name"),
    _user("UserPrincipalName", "upn"),
    _user("EmailAddress", "email"),
    _user("OnPrem_Distinguished_Name", "on_prem_dn"),
    _user("OnPremisesSamAccountName", "on_prem_sam_account_name"),
    _Variable("OnPremisesSecurityIdentifier", "either", _sid),
)
_BY_NAME = {variable.name.casefold(): variable for variable in _TABLE}
VARIABLES: tuple[str, ...] = (*(variable.name for variable in _TABLE), "SERIALNUMBER")
"""Intune's variable names as its documentation spells them (matched case-insensitively)."""

_TOKEN = re.compile(r"\{\{([^{}]*)\}\}")


def resolve(
    template: str, device: DeviceFacts, user: UserFacts | None, *, platform: Platform | None = None
) -> str:
    """`template` with each `{{Variable}}` replaced by the device's or user's value.

    `user` is None for a device certificate. `platform` is the profile's platform, whose rules
    apply (the device's own by default). UnresolvedVariable names the first variable that cannot
    be supplied, and why.
    """
    rules = platform or device.platform
    leftover = _TOKEN.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        raise UnresolvedVariable(leftover.strip(), "unbalanced {{ }} in the template")

    def substitute(match: re.Match[str]) -> str:
        return _value(match.group(1).strip(), device, user, rules)

    return _TOKEN.sub(substitute, template)


def _value(name: str, device: DeviceFacts, user: UserFacts | None, platform: Platform) -> str:
    variable = _BY_NAME.get(name.casefold())
    if variable is None:
        raise UnresolvedVariable(name, "not a variable Intune knows")
    if variable.scope == "user" and user is None:
        raise UnresolvedVariable(name, "a user variable, and a device certificate has no user")
    if variable.platforms is not None and platform not in variable.platforms:
        allowed = ", ".join(sorted(variable.platforms))
        raise UnresolvedVariable(name, f"only on {allowed}, not on {platform}")
    value = variable.get(device, user)
    if not value:
        on_device = variable.scope == "device" or (variable.scope == "either" and user is None)
        whose = "the device" if on_device else "the user"
        raise UnresolvedVariable(name, f"{whose} has no such value")
    return value


def sid_uri(sid: str) -> str:
    """The URI SAN Intune writes for strong mapping: `tag:microsoft.com,2022-09-14:sid:<SID>`."""
    return sid_san(sid).value


def build_expected_subject(
    template: str, device: DeviceFacts, user: UserFacts | None, *, platform: Platform | None = None
) -> x509.Name:
    """The subject a device must request: the resolved template, parsed (see `subject`)."""
    return parse_subject(resolve(template, device, user, platform=platform))


# Graph's subjectAlternativeNameType / customSubjectAlternativeNames[].sanType, and short forms
_SAN_TYPES: dict[str, SanType | None] = {
    "none": None,
    "emailaddress": "email",
    "email": "email",
    "userprincipalname": "upn",
    "upn": "upn",
    "domainnameservice": "dns",
    "dns": "dns",
    "universalresourceidentifier": "uri",
    "uri": "uri",
}
_SID_TOKEN = "{{onpremisessecurityidentifier}}"


def build_expected_sans(
    definitions: Iterable[tuple[str, str]],
    device: DeviceFacts,
    user: UserFacts | None,
    *,
    platform: Platform | None = None,
) -> tuple[tuple[SanType, str], ...]:
    """The SANs a device must request, from (sanType, template) pairs, in order, duplicates once.

    A URI whose template is just `{{OnPremisesSecurityIdentifier}}` becomes the strong-mapping
    tag URI (`sid_uri`). `none` entries are skipped; `customAzureADAttribute` is not emulated.
    """
    sans: list[tuple[SanType, str]] = []
    for san_type, template in definitions:
        kind = _san_type(san_type)
        if kind is None:
            continue
        value = resolve(template, device, user, platform=platform)
        if kind == "uri" and template.strip().casefold() == _SID_TOKEN:
            try:
                value = sid_uri(value)
            except ValueError:
                raise UnresolvedVariable("OnPremisesSecurityIdentifier", "not a SID") from None
        if (kind, value) not in sans:
            sans.append((kind, value))
    return tuple(sans)


def _san_type(name: str) -> SanType | None:
    key = name.strip().casefold()
    if key not in _SAN_TYPES:
        raise ProfileError(f"unsupported subject alternative name type {name!r}")
    return _SAN_TYPES[key]


# Graph's subjectNameFormat values other than `custom`, as the templates they stand for [I]
_SUBJECT_FORMATS = {
    "commonname": "CN={{UserName}}",
    "commonnameincludingemail": "CN={{UserName}},E={{EmailAddress}}",
    "commonnameasemail": "CN={{EmailAddress}}",
    "commonnameasimei": "CN={{IMEI}}",
    "commonnameasserialnumber": "CN={{SerialNumber}}",
    "commonnameasaaddeviceid": "CN={{AAD_Device_ID}}",
    "commonnameasintunedeviceid": "CN={{DeviceId}}",
}


def subject_template(subject_name_format: str, format_string: str | None = None) -> str:
    """The subject template of a profile: `format_string` for `custom`, else the one the named
    format stands for (`commonNameAsDurableDeviceId` is not emulated: ProfileError)."""
    key = subject_name_format.strip().casefold()
    if key == "custom":
        if format_string is None:
            raise ProfileError("a custom subject name format needs subjectNameFormatString")
        return format_string
    template = _SUBJECT_FORMATS.get(key)
    if template is None:
        raise ProfileError(f"unsupported subjectNameFormat {subject_name_format!r}")
    return template
