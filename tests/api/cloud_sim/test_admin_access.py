"""Who may do what: a caller sees only their own tenant (404 on another tenant's ids, empty
lists), and a read-only role reads but gets 403 on every write."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from cloud_sim.management import (
    NotFound,
    list_revocations,
    pending_revocations,
    record_certificate_state,
    record_revocation_result,
    register_connector,
)
from cloud_sim.management.enums import CertificateIssuanceState
from shared.pki import LabPki

from .admin_support import (
    ADMIN,
    BASE,
    OTHER_TENANT,
    OUTSIDER,
    READER,
    TENANT,
    assign,
    db,
    device_body,
    new_device,
    new_scep_profile,
    scep_body,
    seed_certificate,
    sign_in,
    trusted_body,
)
from .conftest import NOW

CONNECTOR = "c0000000-0000-4000-8000-0000000000aa"


async def populate(app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki) -> dict[str, str]:
    sign_in(app, ADMIN)
    device = await new_device(client)
    root, scep = await new_scep_profile(client, lab_pki)
    await assign(client, scep, ["g-sales"])
    await seed_certificate(app, device, scep, "0a", now=NOW)
    async with db(app) as session:
        await register_connector(
            session,
            TENANT,
            display_name="NDES01",
            machine_name="ndes01",
            connector_version="6",
            now=NOW,
            connector_id=CONNECTOR,
        )
    await client.post(f"{BASE}/managedDevices/{device}/retire")
    return {"device": device, "root": root, "scep": scep}


async def test_another_tenant_sees_nothing_and_gets_404_on_ids(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    ids = await populate(app, client, lab_pki)
    sign_in(app, OUTSIDER)

    for path in ("managedDevices", "deviceConfigurations", "ndesConnectors", "auditEvents"):
        response = await client.get(f"{BASE}/{path}")
        assert response.status_code == 200 and response.json()["value"] == [], path
    device, scep = ids["device"], ids["scep"]
    for method, path in [
        ("GET", f"managedDevices/{device}"),
        ("GET", f"managedDevices/{device}/managedDeviceCertificateStates"),
        ("POST", f"managedDevices/{device}/wipe"),
        ("DELETE", f"managedDevices/{device}"),
        ("GET", f"deviceConfigurations/{scep}"),
        ("GET", f"deviceConfigurations/{scep}/assignments"),
        ("GET", f"deviceConfigurations/{scep}/managedDeviceCertificateStates"),
        ("GET", f"deviceConfigurations/{scep}/deviceStatuses"),
        ("PATCH", f"deviceConfigurations/{scep}"),
        ("DELETE", f"deviceConfigurations/{scep}"),
        ("GET", f"ndesConnectors/{CONNECTOR}"),
        ("DELETE", f"ndesConnectors/{CONNECTOR}"),
    ]:
        body = {"displayName": "mine now"} if method == "PATCH" else None
        response = await client.request(method, f"{BASE}/{path}", json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "ResourceNotFound"
    assign_response = await assign(client, scep, [])
    assert assign_response.status_code == 404
    # the other tenant's SCEP profile cannot name this tenant's root either
    foreign_root = await client.post(f"{BASE}/deviceConfigurations", json=scep_body(ids["root"]))
    assert foreign_root.status_code == 400

    async with db(app) as session:
        assert await list_revocations(session, OTHER_TENANT) == []
        assert await pending_revocations(session, OTHER_TENANT, 500, None, now=NOW) == []
        [mine] = await list_revocations(session, TENANT)
        assert not await record_revocation_result(
            session,
            OTHER_TENANT,
            mine.request_context,
            succeeded=True,
            error_code=None,
            error_message=None,
            now=NOW,
        )
        with pytest.raises(NotFound):
            await record_certificate_state(
                session,
                OTHER_TENANT,
                device_id=device,
                configuration_id=scep,
                issuance_state=CertificateIssuanceState.ISSUED,
                now=NOW,
            )

    sign_in(app, ADMIN)  # and nothing of the first tenant changed
    assert (await client.get(f"{BASE}/managedDevices/{device}")).json()[
        "managementState"
    ] == "retirePending"
    assert (await client.get(f"{BASE}/deviceConfigurations/{scep}")).json()["version"] == 1
    assert (
        len((await client.get(f"{BASE}/deviceConfigurations/{scep}/assignments")).json()["value"])
        == 1
    )


async def test_a_read_only_operator_reads_but_cannot_write(
    app: FastAPI, client: httpx.AsyncClient, lab_pki: LabPki
) -> None:
    ids = await populate(app, client, lab_pki)
    sign_in(app, READER, may_write=False)
    device, scep = ids["device"], ids["scep"]

    for path in (
        "managedDevices",
        f"managedDevices/{device}",
        f"managedDevices/{device}/managedDeviceCertificateStates",
        "deviceConfigurations",
        f"deviceConfigurations/{scep}/assignments",
        f"deviceConfigurations/{scep}/deviceStatuses",
        "ndesConnectors",
        "auditEvents",
    ):
        assert (await client.get(f"{BASE}/{path}")).status_code == 200, path
    writes = [
        ("POST", "managedDevices", device_body("NEW-1")),
        ("POST", f"managedDevices/{device}/retire", None),
        ("POST", f"managedDevices/{device}/wipe", None),
        ("DELETE", f"managedDevices/{device}", None),
        ("POST", "deviceConfigurations", trusted_body(lab_pki)),
        ("PATCH", f"deviceConfigurations/{scep}", {"displayName": "x"}),
        ("DELETE", f"deviceConfigurations/{scep}", None),
        ("POST", f"deviceConfigurations/{scep}/assign", {"assignments": []}),
        ("DELETE", f"ndesConnectors/{CONNECTOR}", None),
    ]
    for method, path, body in writes:
        response = await client.request(method, f"{BASE}/{path}", json=body)
        assert response.status_code == 403, (method, path)
    sign_in(app, ADMIN)
    audit = (await client.get(f"{BASE}/auditEvents")).json()["value"]
    assert audit[0]["activity"] == "Retire ManagedDevice"  # nothing the reader tried was done
    assert (await client.get(f"{BASE}/ndesConnectors/{CONNECTOR}")).status_code == 200
