"""The admin API through the real auth dependencies (no overrides): a token from the cloud's own
token endpoint decides who may read, who may write, and in which tenant."""

from __future__ import annotations

import httpx

from .admin_support import BASE, device_body
from .identity_support import (  # fixtures registered as app, cheap_hashes, lab
    Lab,
    app_fixture,  # noqa: F401
    assert_graph_error,
    bearer,
    cheap_hashes_fixture,  # noqa: F401
    lab_fixture,  # noqa: F401
    user_token,
)


async def test_tokens_decide_who_reads_and_who_writes(client: httpx.AsyncClient, lab: Lab) -> None:
    reader = bearer(await user_token(client, lab.reader))
    admin = bearer(await user_token(client, lab.intune_admin))
    user = bearer(await user_token(client, lab.user))

    anonymous = await client.get(f"{BASE}/managedDevices")
    refused = await client.post(f"{BASE}/managedDevices", json=device_body(), headers=reader)
    no_role = await client.get(f"{BASE}/managedDevices", headers=user)
    created = await client.post(f"{BASE}/managedDevices", json=device_body(), headers=admin)
    listed = await client.get(f"{BASE}/managedDevices", headers=reader)
    audit = await client.get(f"{BASE}/auditEvents", headers=reader)

    assert_graph_error(anonymous, 401, "InvalidAuthenticationToken")
    assert_graph_error(refused, 403, "Authorization_RequestDenied")
    assert_graph_error(no_role, 403, "Authorization_RequestDenied")
    assert created.status_code == 201, created.text
    assert [d["id"] for d in listed.json()["value"]] == [created.json()["id"]]
    [event] = audit.json()["value"]
    assert event["actor"]["userPrincipalName"] == lab.intune_admin.user_principal_name
    assert event["actor"]["userId"] == lab.intune_admin.id
