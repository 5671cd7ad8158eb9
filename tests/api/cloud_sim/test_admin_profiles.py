"""deviceConfigurations: trusted-certificate and SCEP profiles in their platforms' @odata.types,
with every SCEP setting of intune-api.md §4, validated (400 in Graph's shape), patched (a SCEP
change revokes the profile's certificates), deleted."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI

from cloud_sim.management import list_revocations
from cloud_sim.management.enums import RevocationReason
from shared.pki import LabCert, LabPki

from .admin_support import (
    ADMIN,
    BASE,
    GRAPH,
    TENANT,
    create,
    db,
    new_device,
    new_scep_profile,
    scep_body,
    seed_certificate,
    sign_in,
    trusted_body,
)
from .conftest import NOW

CONFIGS = f"{BASE}/deviceConfigurations"


@pytest.fixture(autouse=True)
def _admin(app: FastAPI) -> None:
    sign_in(app, ADMIN)


async def test_a_trusted_root_profile_reads_back(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    created = await create(client, "deviceConfigurations", trusted_body(lab_pki))

    got = (await client.get(f"{CONFIGS}/{created['id']}")).json()

    assert got["@odata.type"] == "#microsoft.graph.windows81TrustedRootCertificate"
    assert got["displayName"] == "Lab Root CA"
    der = lab_pki.cert(LabCert.ROOT_CA).public_bytes(Encoding.DER)
    assert base64.b64decode(got["trustedRootCertificate"]) == der
    assert got["certFileName"] == "lab-root.cer"
    assert got["destinationStore"] == "computerCertStoreRoot"  # Windows' default
    assert got["version"] == 1


async def test_a_pem_upload_is_kept_as_der_and_ios_has_no_destination_store(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    pem = lab_pki.cert(LabCert.ISSUING_CA).public_bytes(Encoding.PEM)
    body = trusted_body(lab_pki, "ios", trustedRootCertificate=base64.b64encode(pem).decode())

    got = await create(client, "deviceConfigurations", body)

    der = lab_pki.cert(LabCert.ISSUING_CA).public_bytes(Encoding.DER)
    assert base64.b64decode(str(got["trustedRootCertificate"])) == der
    assert "destinationStore" not in got


BAD_TRUSTED = [
    ({"trustedRootCertificate": base64.b64encode(b"\x30\x03\x02\x01\x01").decode()}, "X.509"),
    ({"trustedRootCertificate": "not base64!"}, "base64"),
    ({"@odata.type": f"{GRAPH}windows10GeneralConfiguration"}, "does not serve"),
    ({"@odata.type": None}, "@odata.type is required"),
    ({"displayName": ""}, "displayName"),
    ({"destinationStore": "somewhere"}, "destinationStore"),
]


async def test_a_bad_trusted_profile_is_refused(client: httpx.AsyncClient, lab_pki: LabPki) -> None:
    for change, message in BAD_TRUSTED:
        response = await client.post(CONFIGS, json=trusted_body(lab_pki) | change)

        assert response.status_code == 400, (change, response.text)
        assert response.json()["error"]["code"] == "BadRequest"
        assert message in response.json()["error"]["message"], change
    assert (await client.get(CONFIGS)).json()["value"] == []


@pytest.mark.parametrize("platform", ["windows", "ios", "macOS", "androidWorkProfile"])
async def test_a_scep_profile_reads_back_with_every_setting(
    client: httpx.AsyncClient, lab_pki: LabPki, platform: str
) -> None:
    root, scep = await new_scep_profile(client, lab_pki, platform)

    got = (await client.get(f"{CONFIGS}/{scep}")).json()

    expected = scep_body(root, platform)
    for key, value in expected.items():
        assert got[key] == value, key
    if platform == "windows":
        assert got["keyStorageProvider"] == "useTpmKspOtherwiseUseSoftwareKsp"
        assert got["certificateStore"] == "machine"  # a device certificate
    else:
        assert "keyStorageProvider" not in got and "certificateStore" not in got


async def test_flags_come_back_in_graphs_order(client: httpx.AsyncClient, lab_pki: LabPki) -> None:
    root, _ = await new_scep_profile(client, lab_pki)
    body = scep_body(root, keyUsage="digitalSignature, keyEncipherment", hashAlgorithm="sha2,sha1")

    got = await create(client, "deviceConfigurations", body)

    assert got["keyUsage"] == "keyEncipherment,digitalSignature"
    assert got["hashAlgorithm"] == "sha1,sha2"


BAD_SCEP = [
    ({"keySize": "size3072"}, "keySize"),
    ({"keyUsage": "keyEncipherment,nonRepudiation"}, "keyUsage"),
    ({"keyUsage": ""}, "keyUsage"),
    ({"hashAlgorithm": "md5"}, "hashAlgorithm"),
    ({"certificateType": "robot"}, "certificateType"),
    ({"subjectNameFormat": "commonNameAsPetName"}, "subjectNameFormat"),
    ({"subjectNameFormatString": None}, "subjectNameFormatString"),
    (
        {"subjectAlternativeNameType": "customAzureADAttribute"},
        "subjectAlternativeNameFormatString",
    ),
    ({"customSubjectAlternativeNames": [{"sanType": "ipAddress", "name": "x"}]}, "sanType"),
    ({"extendedKeyUsages": []}, "extendedKeyUsages"),
    (
        {"extendedKeyUsages": [{"name": "x", "objectIdentifier": "client-auth"}]},
        "object identifier",
    ),
    ({"renewalThresholdPercentage": 0}, "renewalThresholdPercentage"),
    ({"renewalThresholdPercentage": 100}, "renewalThresholdPercentage"),
    ({"certificateValidityPeriodScale": "weeks"}, "certificateValidityPeriodScale"),
    ({"certificateValidityPeriodValue": 0}, "certificateValidityPeriodValue"),
    ({"keyStorageProvider": "useFloppyDisk"}, "keyStorageProvider"),
    ({"keySize": "size4096", "keyStorageProvider": "useTpmKspOtherwiseFail"}, "software KSP"),
    ({"certificateStore": "drawer"}, "certificateStore"),
    ({"scepServerUrls": []}, "scepServerUrls"),
    ({"scepServerUrls": ["ftp://ndes/certsrv"]}, "http"),
    ({"rootCertificate": "00000000-0000-4000-8000-000000000999"}, "rootCertificate"),
    ({"favouriteColour": "blue"}, "Property 'favouriteColour' does not exist"),
]


async def test_a_bad_scep_profile_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    root, _ = await new_scep_profile(client, lab_pki)
    before = (await client.get(CONFIGS)).json()["value"]

    for change, message in BAD_SCEP:
        response = await client.post(CONFIGS, json=scep_body(root) | change)

        assert response.status_code == 400, (change, response.text)
        assert response.json()["error"]["code"] == "BadRequest"
        assert message in response.json()["error"]["message"], change
    assert (await client.get(CONFIGS)).json()["value"] == before


async def test_the_root_must_be_a_trusted_profile_of_the_same_platform(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    ios_root = await create(client, "deviceConfigurations", trusted_body(lab_pki, "ios"))
    _, windows_scep = await new_scep_profile(client, lab_pki)

    wrong_platform = await client.post(CONFIGS, json=scep_body(str(ios_root["id"])))
    not_trusted = await client.post(CONFIGS, json=scep_body(windows_scep))
    ios_ok = await client.post(CONFIGS, json=scep_body(str(ios_root["id"]), "ios"))

    assert wrong_platform.status_code == 400
    assert "iosTrustedRootCertificate" in wrong_platform.json()["error"]["message"]
    assert not_trusted.status_code == 400
    assert ios_ok.status_code == 201
    assert "keyStorageProvider" not in ios_ok.json()


async def test_windows_only_settings_are_refused_elsewhere(
    client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    root = await create(client, "deviceConfigurations", trusted_body(lab_pki, "ios"))
    body = scep_body(str(root["id"]), "ios", keyStorageProvider="useSoftwareKsp")

    response = await client.post(CONFIGS, json=body)

    assert response.status_code == 400
    assert "Windows" in response.json()["error"]["message"]


async def test_a_patch_of_scep_settings_revokes_the_profiles_certificates(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    _, scep = await new_scep_profile(client, lab_pki)
    device = await new_device(client)
    await seed_certificate(app, device, scep, "0a", now=NOW)

    renamed = await client.patch(f"{CONFIGS}/{scep}", json={"displayName": "Renamed"})
    async with db(app) as session:
        after_rename = await list_revocations(session, TENANT)
    resized = await client.patch(f"{CONFIGS}/{scep}", json={"keySize": "size4096"})

    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    assert after_rename == []  # a new name is not a SCEP change
    assert resized.status_code == 200, resized.text
    assert resized.json()["keySize"] == "size4096"
    assert resized.json()["version"] == 3
    async with db(app) as session:
        queued = await list_revocations(session, TENANT)
    assert [(r.serial_number, r.reason) for r in queued] == [
        ("0a", RevocationReason.PROFILE_CHANGED)
    ]
    events = (await client.get(f"{BASE}/auditEvents")).json()["value"]
    changed = events[0]["resources"][0]["modifiedProperties"]
    assert events[0]["activity"] == "Patch DeviceConfiguration"
    assert changed == [
        {"displayName": "keySize", "oldValue": '"size2048"', "newValue": '"size4096"'}
    ]


async def test_a_bad_patch_changes_nothing(client: httpx.AsyncClient, lab_pki: LabPki) -> None:
    _, scep = await new_scep_profile(client, lab_pki)

    response = await client.patch(f"{CONFIGS}/{scep}", json={"renewalThresholdPercentage": 120})

    assert response.status_code == 400
    got = (await client.get(f"{CONFIGS}/{scep}")).json()
    assert got["renewalThresholdPercentage"] == 20
    assert got["version"] == 1


async def test_delete_keeps_a_used_root_and_revokes_a_deleted_scep_profiles_certificates(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    root, scep = await new_scep_profile(client, lab_pki)
    device = await new_device(client)
    await seed_certificate(app, device, scep, "0b", now=NOW)

    root_refused = await client.delete(f"{CONFIGS}/{root}")
    scep_deleted = await client.delete(f"{CONFIGS}/{scep}")
    root_deleted = await client.delete(f"{CONFIGS}/{root}")

    assert root_refused.status_code == 400
    assert "Wi-Fi device certificate" in root_refused.json()["error"]["message"]
    assert scep_deleted.status_code == 204
    assert root_deleted.status_code == 204
    assert (await client.get(f"{CONFIGS}/{scep}")).status_code == 404
    async with db(app) as session:
        queued = await list_revocations(session, TENANT)
    assert [(r.serial_number, r.reason) for r in queued] == [
        ("0b", RevocationReason.PROFILE_DELETED)
    ]
    activities = [e["activity"] for e in (await client.get(f"{BASE}/auditEvents")).json()["value"]]
    assert activities[:2] == ["Delete DeviceConfiguration", "Delete DeviceConfiguration"]
