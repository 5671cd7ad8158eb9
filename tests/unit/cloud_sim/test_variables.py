"""Profile variables resolved per device and user, and the expected subject and SANs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.x509.oid import NameOID

from cloud_sim.domain import (
    VARIABLES,
    DeviceFacts,
    ProfileError,
    UnresolvedVariable,
    UserFacts,
    build_expected_sans,
    build_expected_subject,
    resolve,
    sid_uri,
    subject_template,
)

from .factory import SID

PHONE = DeviceFacts(
    intune_device_id="8c1e-intune",
    platform="android",
    device_name="pixel-9",
    serial_number="SN-42",
    imei="356938035643809",
    meid="A0000000002329",
    entra_device_id="4b2a-entra",
    wifi_mac="02:00:5E:10:00:01",
)
LAPTOP = DeviceFacts(
    intune_device_id="7d3f-intune",
    platform="windows",
    device_name="LAPTOP-7",
    serial_number="PF3XYZ",
    entra_device_id="9e8d-entra",
    wifi_mac="3C:22:FB:00:00:07",
    fqdn="laptop-7.corp.contoso.test",
    on_prem_sid="S-1-5-21-1-2-3-2001",
)
ADA = UserFacts(
    upn="ada@contoso.test",
    email="ada.lovelace@contoso.test",
    user_name="ada",
    on_prem_sid=SID,
    on_prem_dn="CN=Ada Lovelace,OU=Users,DC=corp,DC=contoso,DC=test",
    on_prem_sam_account_name="alovelace",
)


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("AAD_Device_ID", "4b2a-entra"),
        ("AzureADDeviceId", "4b2a-entra"),
        ("DeviceId", "8c1e-intune"),
        ("Device_Serial", "SN-42"),
        ("SerialNumber", "SN-42"),
        ("SERIALNUMBER", "SN-42"),
        ("Device_IMEI", "356938035643809"),
        ("IMEINumber", "356938035643809"),
        ("IMEI", "356938035643809"),
        ("MEID", "A0000000002329"),
        ("WiFiMacAddress", "02:00:5E:10:00:01"),
        ("DeviceName", "pixel-9"),
        ("UserName", "ada"),
        ("UserPrincipalName", "ada@contoso.test"),
        ("EmailAddress", "ada.lovelace@contoso.test"),
        ("OnPrem_Distinguished_Name", "CN=Ada Lovelace,OU=Users,DC=corp,DC=contoso,DC=test"),
        ("OnPremisesSamAccountName", "alovelace"),
        ("OnPremisesSecurityIdentifier", SID),
    ],
)
def test_each_variable_resolves(variable: str, expected: str) -> None:
    assert resolve(f"x-{{{{{variable}}}}}-y", PHONE, ADA) == f"x-{expected}-y"


def test_every_documented_variable_is_covered() -> None:
    assert len(VARIABLES) == 19
    for variable in VARIABLES:
        device = replace(LAPTOP, imei="1", meid="2")
        assert resolve(f"{{{{{variable}}}}}", device, ADA)


def test_the_fqdn_is_a_windows_variable() -> None:
    assert resolve("{{FullyQualifiedDomainName}}", LAPTOP, None) == "laptop-7.corp.contoso.test"
    with pytest.raises(UnresolvedVariable, match="only on windows"):
        resolve("{{FullyQualifiedDomainName}}", replace(PHONE, fqdn="p.test"), None)
    with pytest.raises(UnresolvedVariable, match="only on windows"):
        resolve("{{FullyQualifiedDomainName}}", LAPTOP, None, platform="macos")


@pytest.mark.parametrize("template", ["{{username}}", "{{USERNAME}}", "{{ UserName }}"])
def test_names_are_case_insensitive(template: str) -> None:
    assert resolve(template, PHONE, ADA) == "ada"


def test_several_variables_and_text() -> None:
    template = "CN={{UserName}},E={{EmailAddress}},OU={{DeviceName}}"
    assert resolve(template, PHONE, ADA) == "CN=ada,E=ada.lovelace@contoso.test,OU=pixel-9"
    assert resolve("no variables here", PHONE, None) == "no variables here"


@pytest.mark.parametrize(
    ("template", "device", "user", "name", "reason"),
    [
        ("{{IMEI}}", LAPTOP, None, "IMEI", "the device has no such value"),  # no modem
        ("{{Device_IMEI}}", LAPTOP, ADA, "Device_IMEI", "the device has no such value"),
        ("{{MEID}}", LAPTOP, None, "MEID", "the device has no such value"),
        ("CN={{UserName}}", LAPTOP, None, "UserName", "device certificate has no user"),
        ("{{UserPrincipalName}}", PHONE, None, "UserPrincipalName", "no user"),
        ("{{EmailAddress}}", PHONE, UserFacts(upn="bob@contoso.test"), "EmailAddress", "the user"),
        ("{{OnPremisesSecurityIdentifier}}", PHONE, None, "OnPremisesSecurityIdentifier", "device"),
        ("{{CompanyName}}", PHONE, ADA, "CompanyName", "not a variable Intune knows"),
        ("{{}}", PHONE, ADA, "", "not a variable"),
        ("CN={{UserName}", PHONE, ADA, "CN={{UserName}", "unbalanced"),
        ("CN=}}x", PHONE, ADA, "CN=}}x", "unbalanced"),
    ],
)
def test_what_cannot_be_supplied_raises(
    template: str, device: DeviceFacts, user: UserFacts | None, name: str, reason: str
) -> None:
    with pytest.raises(UnresolvedVariable) as caught:
        resolve(template, device, user)
    assert caught.value.name == name
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_a_hybrid_joined_device_certificate_gets_the_devices_sid() -> None:
    assert resolve("{{OnPremisesSecurityIdentifier}}", LAPTOP, None) == "S-1-5-21-1-2-3-2001"
    assert resolve("{{OnPremisesSecurityIdentifier}}", LAPTOP, ADA) == SID


def test_the_sid_uri_is_intunes_strong_mapping_tag() -> None:
    assert sid_uri(SID) == f"tag:microsoft.com,2022-09-14:sid:{SID}"
    with pytest.raises(ValueError, match="not a SID"):
        sid_uri("ada")


def test_the_expected_subject_is_parsed_from_the_resolved_template() -> None:
    name = build_expected_subject("CN={{UserName}},E={{EmailAddress}},O=Contoso", PHONE, ADA)
    assert name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ada"
    assert name.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == (
        "ada.lovelace@contoso.test"
    )
    # written as RFC 4514 writes it: the last RDN (CN) first; encoded O, E, CN
    assert (
        name.rfc4514_string() == "CN=ada,1.2.840.113549.1.9.1=ada.lovelace@contoso.test,O=Contoso"
    )
    assert name.rdns[0].rfc4514_string() == "O=Contoso"


def test_a_quoted_distinguished_name_stays_one_common_name() -> None:
    name = build_expected_subject('CN="{{OnPrem_Distinguished_Name}}"', PHONE, ADA)
    assert len(name.rdns) == 1
    assert name.rdns[0].get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ADA.on_prem_dn


def test_the_expected_sans_come_from_the_profiles_definitions() -> None:
    definitions = [
        ("userPrincipalName", "{{UserPrincipalName}}"),
        ("emailAddress", "{{EmailAddress}}"),
        ("domainNameService", "{{AzureADDeviceId}}.contoso.test"),
        ("universalResourceIdentifier", "{{OnPremisesSecurityIdentifier}}"),
        ("none", "ignored"),
        ("upn", "{{userprincipalname}}"),  # a duplicate: kept once
    ]
    assert build_expected_sans(definitions, PHONE, ADA) == (
        ("upn", "ada@contoso.test"),
        ("email", "ada.lovelace@contoso.test"),
        ("dns", "4b2a-entra.contoso.test"),
        ("uri", f"tag:microsoft.com,2022-09-14:sid:{SID}"),
    )


def test_unsupported_san_types_and_variables_fail_the_profile() -> None:
    with pytest.raises(ProfileError, match="customAzureADAttribute"):
        build_expected_sans([("customAzureADAttribute", "x")], PHONE, ADA)
    with pytest.raises(UnresolvedVariable):
        build_expected_sans([("dns", "{{FullyQualifiedDomainName}}")], PHONE, None)


@pytest.mark.parametrize(
    ("subject_name_format", "expected"),
    [
        ("commonName", "CN={{UserName}}"),
        ("commonNameIncludingEmail", "CN={{UserName}},E={{EmailAddress}}"),
        ("commonNameAsEmail", "CN={{EmailAddress}}"),
        ("commonNameAsIMEI", "CN={{IMEI}}"),
        ("commonNameAsSerialNumber", "CN={{SerialNumber}}"),
        ("commonNameAsAadDeviceId", "CN={{AAD_Device_ID}}"),
        ("commonNameAsIntuneDeviceId", "CN={{DeviceId}}"),
        ("custom", "CN={{DeviceName}},O=Contoso"),
    ],
)
def test_subject_name_formats_stand_for_templates(subject_name_format: str, expected: str) -> None:
    assert subject_template(subject_name_format, "CN={{DeviceName}},O=Contoso") == expected


def test_unknown_subject_name_formats_fail() -> None:
    with pytest.raises(ProfileError):
        subject_template("commonNameAsDurableDeviceId")
    with pytest.raises(ProfileError):
        subject_template("custom")
