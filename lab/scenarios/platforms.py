"""Platform quirks that refuse what another platform would take, as the devices do in real life
(device_sim's personas): Android wants a SAN on a device certificate, iOS a CA whose GetCACaps
names an SHA. Each device reports its failure, with its HRESULT, to the cloud."""

from __future__ import annotations

from typing import Any

from device_sim.persona import Platform
from device_sim.scep_client import E_INVALIDARG

from ..challenge import find_id
from ..seed_plans import SCEP_COMMON
from .base import Lab, expect, scenario
from .support import NTE_BAD_ALGID, folder, hex32, new_devices, profile_id, reported_failure

SANLESS_GROUP = "Lab Android devices without SAN"
SANLESS_PROFILE = "Lab device certificate without SAN (Android)"
ANDROID_ISSUING = "Lab Issuing CA (Android)"
IOS_PROFILE = "Lab user certificate (iOS)"


def _sanless_profile(lab: Lab) -> str:
    """A device-certificate SCEP profile for Android work profiles with no SAN, assigned to a
    group of its own (made once, found again afterwards): its id."""
    base = "/beta/deviceManagement/deviceConfigurations"
    with lab.admin() as client:
        found = client.get(base, params={"$filter": f"displayName eq '{SANLESS_PROFILE}'"})
        if found.json()["value"]:
            return str(found.json()["value"][0]["id"])
        group = client.post("/v1.0/groups", json={"displayName": SANLESS_GROUP})
        expect(group.status_code == 201, f"creating the group: HTTP {group.status_code}")
        body: dict[str, Any] = {
            **SCEP_COMMON,
            "@odata.type": "#microsoft.graph.androidWorkProfileScepCertificateProfile",
            "displayName": SANLESS_PROFILE,
            "certificateType": "device",
            "subjectNameFormat": "custom",
            "subjectNameFormatString": "CN={{DeviceName}}",
            "keyUsage": "keyEncipherment,digitalSignature",
            "scepServerUrls": [lab.state.scep_https_url],
            "rootCertificate": find_id(client, ANDROID_ISSUING, "profile"),
        }
        made = client.post(base, json=body)
        expect(made.status_code == 201, f"creating the profile: {made.text[:300]}")
        profile = str(made.json()["id"])
        target = {"@odata.type": "#microsoft.graph.groupAssignmentTarget"}
        target["groupId"] = group.json()["id"]
        assigned = client.post(
            f"{base}/{profile}/assign", json={"assignments": [{"target": target}]}
        )
        expect(assigned.status_code == 200, f"assigning the profile: HTTP {assigned.status_code}")
    lab.say(f"the administrator makes {SANLESS_PROFILE!r} (no SAN), assigned to {SANLESS_GROUP}")
    return profile


@scenario("android-san-required", "Android refuses a device-certificate profile without a SAN")
def android_san_required(lab: Lab) -> str:
    profile = _sanless_profile(lab)
    [(_, name)] = new_devices(lab, Platform.ANDROID, 1, "SANLESS", group=SANLESS_GROUP)
    before = lab.ca_count()
    device = lab.device(name, Platform.ANDROID, folder())
    outcomes = {o.profile_id: o for o in lab.run_device(device)}
    expect(profile in outcomes, "the SAN-less profile did not reach the device")
    refused = outcomes[profile]
    expect(refused.state == "requestCreationFailed", f"the device ended {refused.state}")
    expect(refused.hresult == E_INVALIDARG, f"the device reported {hex32(refused.hresult or 0)}")
    others = [o for pid, o in outcomes.items() if pid != profile]
    expect(all(o.state == "installed" for o in others), "its user certificate failed too")
    row = reported_failure(lab, name, profile, E_INVALIDARG)
    expect(row["certificateIssuanceState"] == "requestCreationFailed", f"the cloud shows {row}")
    issued = {r["subject"] for r in lab.ca_requests(before)}
    expect(f"CN={name}" not in issued, "the CA received the device certificate's request")
    lab.say(f"the cloud's report: requestCreationFailed, {hex32(E_INVALIDARG)}; nothing at the CA")
    return (
        f"no request left the device ({hex32(E_INVALIDARG)} reported); its user certificate "
        f"(with a UPN SAN) was issued ({len(others)} other profile)"
    )


@scenario("ios-caps-without-sha2", "iOS refuses a CA whose GetCACaps names no SHA; cleared, works")
def ios_caps_without_sha2(lab: Lab) -> str:
    [(_, name)] = new_devices(lab, Platform.IOS, 1, "NOSHA")
    profile = profile_id(lab, IOS_PROFILE)
    device = lab.device(name, Platform.IOS, folder())
    before, mark = lab.ca_count(), lab.outbox_mark()
    with lab.fault("ndes-caps"):
        lab.say("NDES's GetCACaps now answers POSTPKIOperation, Renewal, DES3, AES: no SHA-*")
        [refused] = lab.run_device(device)
    expect(refused.state == "requestSubmitFailed", f"the device ended {refused.state}")
    expect(refused.hresult == NTE_BAD_ALGID, f"it reported {hex32(refused.hresult or 0)}")
    reported_failure(lab, name, profile, NTE_BAD_ALGID)
    expect(lab.ca_count() == before, "the CA received a request")
    expect(not lab.outbox(mark)["entries"], "the connector heard of a request")
    lab.say(f"the cloud's report: requestSubmitFailed, {hex32(NTE_BAD_ALGID)}; nothing sent")
    [again] = lab.run_device(device, enrol=False)
    expect(again.state == "installed", f"with SHA-2 back the device ended {again.state}")
    return f"refused before any request ({hex32(NTE_BAD_ALGID)}), installed once SHA-2 was back"
