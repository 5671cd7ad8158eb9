"""What each tenant `scep-lab up` seeds holds, as data (`seed` makes it through the cloud's own
service layers).

- Contoso Lab, the demo tenant: an Intune Administrator and a Read Only Operator who can sign in;
  two hybrid users (mail, sAMAccountName, SID); a Windows laptop (alice), an iPhone (bob), a Mac
  (bob) and an Android phone (alice); per platform, trusted-certificate profiles for the
  enterprise root and issuing CA and a SCEP profile naming the issuing CA's, each assigned to the
  platform's group.
- Fabrikam Lab, another tenant of the same cloud: its own administrator, one hybrid user and one
  Windows laptop with its device-certificate profile (the cross-tenant scenario presents its
  challenge at Contoso's NDES and connector).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cloud_sim.domain.identity import MemberKind

Person = tuple[str, str, tuple[str, ...], int | None]
"""key (the UPN's local part), display name, roles, RID on premises (None: a cloud-only
administrator)."""
Group = tuple[str, str, tuple[tuple[MemberKind, str], ...]]
"""display name, description, (member kind, member key)..."""
Device = tuple[str, str, dict[str, str]]
"""key, primary user's key, managedDevice (Graph's names)."""
Profile = tuple[str, str, str, str, str, dict[str, object]]
"""group key, label, trusted-certificate type, SCEP type, SCEP profile name, its settings."""


@dataclass(frozen=True)
class TenantPlan:
    domain: str
    display_name: str
    ad_domain_sid: str
    ad_suffix: str
    people: tuple[Person, ...]
    groups: Mapping[str, Group]
    devices: tuple[Device, ...]
    profiles: tuple[Profile, ...]

    @property
    def admin_upn(self) -> str:
        return f"admin@{self.domain}"

    @property
    def operator_upn(self) -> str:
        return f"operator@{self.domain}"


CLIENT_AUTH = {"name": "Client Authentication", "objectIdentifier": "1.3.6.1.5.5.7.3.2"}
SCEP_COMMON = {
    "extendedKeyUsages": [CLIENT_AUTH],
    "keySize": "size2048",
    "hashAlgorithm": "sha2",
    "certificateValidityPeriodValue": 1,
    "certificateValidityPeriodScale": "years",
    "renewalThresholdPercentage": 20,
}
_ADMINS: tuple[Person, ...] = (
    ("admin", "Lab Administrator", ("Intune Administrator",), None),
    ("operator", "Lab Operator", ("Read Only Operator",), None),
)


_USER_UPN: dict[str, object] = {
    "certificateType": "user",
    "subjectNameFormat": "custom",
    "subjectNameFormatString": "CN={{UserName}}",
    "customSubjectAlternativeNames": [
        {"sanType": "userPrincipalName", "name": "{{UserPrincipalName}}"}
    ],
    "keyUsage": "keyEncipherment,digitalSignature",
}
"""A user certificate with the user's UPN (the macOS and Android work-profile SCEP profiles)."""


def _windows_device_profile(name: str) -> Profile:
    return (
        "windows", "Windows", "windows81", "windows81SCEPCertificateProfile", name,
        {"certificateType": "device", "subjectNameFormat": "custom",
         "subjectNameFormatString": "CN={{DeviceName}}",
         "customSubjectAlternativeNames": [
             {"sanType": "domainNameService", "name": "{{FullyQualifiedDomainName}}"}],
         "keyUsage": "keyEncipherment,digitalSignature",
         "keyStorageProvider": "useTpmKspOtherwiseUseSoftwareKsp", "certificateStore": "machine"},
    )  # fmt: skip


_CONTOSO = "contoso-lab.onmicrosoft.com"
DEMO = TenantPlan(
    domain=_CONTOSO,
    display_name="Contoso Lab",
    ad_domain_sid="S-1-5-21-1004336348-1177238915-682003330",
    ad_suffix="contoso-lab.local",
    people=(*_ADMINS, ("alice", "Alice Martin", (), 1105), ("bob", "Bob Nguyen", (), 1106)),
    groups={
        "windows": ("Lab Windows devices", "Windows PCs", ((MemberKind.DEVICE, "laptop"),)),
        "ios": ("Lab iOS users", "Users with an iPhone", ((MemberKind.USER, "bob"),)),
        "android": (
            "Lab Android users",
            "Users with an Android phone",
            ((MemberKind.USER, "alice"),),
        ),
    },
    devices=(
        (
            "laptop",
            "alice",
            {
                "deviceName": "LAB-LAPTOP-01",
                "platform": "windows",
                "osVersion": "10.0.22631.4890",
                "serialNumber": "5CD4281JQX",
                "wiFiMacAddress": "9C2DCD1A4E7B",
                "fullyQualifiedDomainName": "LAB-LAPTOP-01.contoso-lab.local",
            },
        ),
        (
            "iphone",
            "bob",
            {
                "deviceName": "LAB-IPHONE-01",
                "platform": "ios",
                "osVersion": "17.5.1",
                "serialNumber": "F2LZK8XQN72Q",
                "imei": "356749112098761",
            },
        ),
        (
            "android",
            "alice",
            {
                "deviceName": "LAB-PIXEL-01",
                "platform": "android",
                "osVersion": "14",
                "serialNumber": "39011FDJH004GZ",
                "imei": "353918056432814",
            },
        ),
        (
            "mac",
            "bob",
            {
                "deviceName": "LAB-MAC-01",
                "platform": "macos",
                "osVersion": "14.5",
                "serialNumber": "C02ZK1YJMD6T",
            },
        ),
    ),
    profiles=(
        _windows_device_profile("Lab device certificate (Windows)"),
        (
            "ios",
            "iOS",
            "ios",
            "iosScepCertificateProfile",
            "Lab user certificate (iOS)",
            {
                "certificateType": "user",
                "subjectNameFormat": "custom",
                "subjectNameFormatString": "CN={{UserName}}",
                "customSubjectAlternativeNames": [
                    {"sanType": "userPrincipalName", "name": "{{UserPrincipalName}}"},
                    {"sanType": "emailAddress", "name": "{{EmailAddress}}"},
                ],
                # signature only: NDES's MSCEP SignatureTemplate, the user template
                "keyUsage": "digitalSignature",
            },
        ),
        (
            "ios",
            "macOS",
            "macOS",
            "macOSScepCertificateProfile",
            "Lab user certificate (macOS)",
            _USER_UPN,
        ),
        (
            "android",
            "Android",
            "androidWorkProfile",
            "androidWorkProfileScepCertificateProfile",
            "Lab user certificate (Android work profile)",
            _USER_UPN,
        ),
    ),
)

_FABRIKAM = "fabrikam-lab.onmicrosoft.com"
OTHER = TenantPlan(
    domain=_FABRIKAM,
    display_name="Fabrikam Lab",
    ad_domain_sid="S-1-5-21-2718281828-3141592653-1414213562",
    ad_suffix="fabrikam-lab.local",
    people=(*_ADMINS, ("carol", "Carol Okafor", (), 1201)),
    groups={
        "windows": ("Fabrikam Windows devices", "Windows PCs", ((MemberKind.DEVICE, "laptop"),)),
    },
    devices=(
        (
            "laptop",
            "carol",
            {
                "deviceName": "FAB-LAPTOP-01",
                "platform": "windows",
                "osVersion": "10.0.22631.4890",
                "serialNumber": "8CG3150XYZ",
                "wiFiMacAddress": "3C5282A01F9D",
                "fullyQualifiedDomainName": "FAB-LAPTOP-01.fabrikam-lab.local",
            },
        ),
    ),
    profiles=(_windows_device_profile("Fabrikam device certificate (Windows)"),),
)
