"""The first scenarios of issue 7's list: the Intune workflow, the attacks it refuses, expiry by
the virtual clock, cloud outages, retirement, renewal. The others are in the modules beside."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from device_sim.device import Installed
from device_sim.persona import Platform
from shared import scep
from shared.clock import OffsetClock

from ..challenge import find_id
from ..devices import WINDOWS_GROUP, add_devices
from .base import (
    E_INVALIDARG,
    IOS,
    RPC_S_SERVER_UNAVAILABLE,
    WINDOWS,
    Lab,
    expect,
    scenario,
)

SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
LOST = 3
"""Notifications the cloud loses in cloud-outage-during-notify."""


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="scep-lab-scenario-"))


def _refused_and_nothing_issued(lab: Lab, changes: dict[str, object], what: str) -> str:
    found = lab.challenge(*WINDOWS)
    before = lab.ca_count()
    lab.say(f"the device asks for {what}")
    exchange = lab.enrol(found, **changes)  # type: ignore[arg-type]
    lab.refused(exchange, E_INVALIDARG)
    expect(lab.ca_count() == before, "the CA received a request")
    states = {r["certificateIssuanceState"] for r in lab.report(WINDOWS[0])}
    expect("challengeValidationFailed" in states, "the cloud's report shows no failed validation")
    return f"refused (0x{E_INVALIDARG:08X}), nothing reached the CA, the report shows the failure"


def _one_installed(lab: Lab, name: str, platform: Platform) -> Installed:
    """The device checks in and installs the one certificate its profile asks for."""
    device = lab.device(name, platform, _folder())
    outcomes = lab.run_device(device)
    expect(
        len(outcomes) == 1,
        f"{name} was handed {len(outcomes)} profiles, not one: is it retired, or out of its "
        "group? (`scep-lab reset` and `up` start a fresh lab)",
    )
    [outcome] = outcomes
    expect(outcome.state == "installed", f"the device ended {outcome.state}: {outcome.detail}")
    [installed] = device.installed.values()
    return installed


@scenario("device-certificate", "a Windows device gets its device certificate through Intune")
def device_certificate(lab: Lab) -> str:
    installed = _one_installed(lab, WINDOWS[0], Platform.WINDOWS)
    row = lab.wait("the installed report", lambda: lab.row_for(WINDOWS[0], installed.serial))
    expect(row["certificateIssuanceState"] == "installed", "the report does not say installed")
    subject = installed.certificate.subject.rfc4514_string()
    return f"{subject}, serial {installed.serial}, chained to the root and reported installed"


@scenario("user-certificate", "an iPhone gets a user certificate with UPN and e-mail SANs")
def user_certificate(lab: Lab) -> str:
    installed = _one_installed(lab, IOS[0], Platform.IOS)
    san = installed.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    emails = san.value.get_values_for_type(x509.RFC822Name)
    others = san.value.get_values_for_type(x509.OtherName)
    expect(emails and others, "the certificate lacks the e-mail or the UPN SAN")
    return f"{installed.certificate.subject.rfc4514_string()} with {emails[0]} and a UPN"


@scenario("intune-impersonation", "a genuine challenge used for another identity: refused")
def intune_impersonation(lab: Lab) -> str:
    return _refused_and_nothing_issued(lab, {"subject": "CN=Administrator"}, "CN=Administrator")


@scenario("elevation-of-privilege", "a genuine challenge with server authentication: refused")
def elevation_of_privilege(lab: Lab) -> str:
    ekus = ("1.3.6.1.5.5.7.3.2", SERVER_AUTH)
    return _refused_and_nothing_issued(lab, {"ekus": ekus}, "server authentication as well")


@scenario("key-downgrade", "1024 bits where the profile says 2048: refused")
def key_downgrade(lab: Lab) -> str:
    return _refused_and_nothing_issued(lab, {"bits": 1024}, "a 1024-bit key")


@scenario("tampered-challenge", "a challenge with one character changed: refused")
def tampered_challenge(lab: Lab) -> str:
    found = lab.challenge(*WINDOWS)
    text = found["challenge"]
    middle = len(text) // 2
    bad = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
    before = lab.ca_count()
    lab.say("the device changes one character of the challenge")
    lab.refused(lab.enrol(found, challenge=bad), E_INVALIDARG)
    expect(lab.ca_count() == before, "the CA received a request")
    return "refused: the challenge no longer opens"


@scenario("replayed-challenge", "a challenge used a second time: refused")
def replayed_challenge(lab: Lab) -> str:
    found = lab.challenge(*WINDOWS)
    first = lab.enrol(found)
    expect(first.result.status is scep.PkiStatus.SUCCESS, "the first request was not issued")
    before = lab.ca_count()
    lab.say("the same challenge is sent again with a new key")
    lab.refused(lab.enrol(found), E_INVALIDARG)
    expect(lab.ca_count() == before, "the CA received the replay")
    return "the first request was issued, the replay refused"


@scenario("expired-challenge", "the clock moves 61 minutes: refused; a new challenge works")
def expired_challenge(lab: Lab) -> str:
    found = lab.challenge(*WINDOWS)
    with lab.admin() as client:
        moved = client.post("/lab/clock", json={"advanceSeconds": 61 * 60})
    expect(moved.status_code == 200, f"the clock did not move: HTTP {moved.status_code}")
    lab.say(f"the lab's clock moves 61 minutes: {moved.json()['now']}")
    lab.refused(lab.enrol(found), E_INVALIDARG)
    fresh = lab.enrol(lab.challenge(*WINDOWS))
    expect(fresh.result.status is scep.PkiStatus.SUCCESS, "the fresh challenge was refused")
    return "the old challenge was refused, the next check-in's was issued"


@scenario("cloud-outage-during-validate", "the cloud fails validation: FAILURE, nothing issued")
def outage_during_validate(lab: Lab) -> str:
    found = lab.challenge(*WINDOWS)
    with lab.admin() as client:
        client.put("/lab/faults/validation", json={"status": 503, "times": 1})
    lab.say("the cloud answers the next validation with HTTP 503")
    before = lab.ca_count()
    lab.refused(lab.enrol(found), RPC_S_SERVER_UNAVAILABLE)
    expect(lab.ca_count() == before, "the CA received a request")
    retried = lab.enrol(found)
    expect(retried.result.status is scep.PkiStatus.SUCCESS, "the retry was not issued")
    return "FAILURE 0x800706BA while the cloud failed; the same challenge worked after"


@scenario("cloud-outage-during-notify", "the report waits in the outbox and arrives once")
def outage_during_notify(lab: Lab) -> str:
    found = lab.challenge(*WINDOWS)
    lab.settle()
    mark = lab.outbox_mark()
    with lab.admin() as client:
        client.put("/lab/faults/notification", json={"status": 503, "times": LOST})
    lab.say(f"the cloud answers the next {LOST} notifications with HTTP 503")
    exchange = lab.enrol(found)
    expect(exchange.result.status is scep.PkiStatus.SUCCESS, "the device got no certificate")
    serial = f"{exchange.certificate.serial_number:x}"
    row = lab.wait("the delayed report", lambda: lab.row_for(WINDOWS[0], serial), timeout=60)
    thumbprint = exchange.certificate.fingerprint(hashes.SHA1()).hex().upper()
    expect(row["certificateThumbprint"].upper() == thumbprint, "the report names another cert")
    rows = [r for r in lab.report(WINDOWS[0]) if r.get("certificateSerialNumber") == serial]
    expect(len(rows) == 1, f"the report holds {len(rows)} rows for the certificate")
    tid = exchange.transaction_id
    [entry] = [e for e in lab.outbox(mark)["entries"] if e["transactionId"] == tid]
    expect(entry["deliveredAt"], "the connector's outbox does not show it delivered")
    expect(entry["attempts"] == LOST + 1, f"the connector tried {entry['attempts']} times")
    lab.say(f"the connector's outbox: delivered at attempt {entry['attempts']}")
    return f"issued at once; reported after {LOST} lost attempts, once"


@scenario("retire-and-revoke", "retire a device: revoked at the CA, in the CRL, removed")
def retire_and_revoke(lab: Lab) -> str:
    device_id, name, _ = _new_windows_device(lab, "RETIRE")
    device = lab.device(name, Platform.WINDOWS, _folder())
    [outcome] = lab.run_device(device)
    expect(outcome.state == "installed", f"the device ended {outcome.state}")
    [installed] = device.installed.values()
    with lab.admin() as client:
        client.post(f"/beta/deviceManagement/managedDevices/{device_id}/retire")
    lab.say(f"the administrator retires {name}")
    gone = lab.run_device(device, enrol=False)
    expect([o.state for o in gone] == ["deleted"], "the device kept its certificate")
    serial = installed.certificate.serial_number
    lab.wait("the CRL", lambda: serial in lab.crl_serials())
    lab.wait(
        "the cloud's revoke status",
        lambda: (
            (r := lab.row_for(name, installed.serial)) and r["certificateRevokeStatus"] == "revoked"
        ),
    )
    return f"serial {installed.serial}: revoked at the CA, in the CRL, revoked in the cloud"


def _new_windows_device(lab: Lab, prefix: str) -> tuple[str, str, str]:
    """A new Windows device in the Windows group (as `scep-lab devices add` makes it):
    (device id, name, group id)."""
    group_name = WINDOWS_GROUP
    with lab.admin() as client:
        [name] = add_devices(client, Platform.WINDOWS, 1, group_name, prefix)
        device_id = find_id(client, name, "device")
        group = client.get(
            "/v1.0/groups", params={"$filter": f"displayName eq '{group_name}'"}
        ).json()["value"][0]["id"]
    lab.say(f"a new Windows device {name} joins the Windows group")
    return device_id, name, group


@scenario("profile-unassigned", "the profile stops applying between check-in and request: refused")
def profile_unassigned(lab: Lab) -> str:
    device_id, name, group = _new_windows_device(lab, "UNASSIGNED")
    found = lab.challenge(name, WINDOWS[1])
    with lab.admin() as client:
        removed = client.delete(f"/v1.0/groups/{group}/members/{device_id}/$ref")
    expect(removed.status_code == 204, f"could not leave the group: HTTP {removed.status_code}")
    lab.say(f"{name} leaves the Windows group: the profile no longer targets it")
    before = lab.ca_count()
    lab.refused(lab.enrol(found, subject=f"CN={name}"), E_INVALIDARG)
    expect(lab.ca_count() == before, "the CA received a request")
    states = {r["certificateIssuanceState"] for r in lab.report(name)}
    expect("challengeValidationFailed" in states, "the report shows no failed validation")
    return "refused (ScepProfileNoLongerTargetedToTheClient at the cloud), nothing issued"


@scenario("renewal", "at the renewal threshold the device renews: a new key and certificate")
def renewal(lab: Lab) -> str:
    _, name, _ = _new_windows_device(lab, "RENEW")
    device = lab.device(name, Platform.WINDOWS, _folder())
    [first] = lab.run_device(device)
    expect(first.state == "installed", f"the device ended {first.state}")
    [old] = device.installed.values()
    left = old.certificate.not_valid_after_utc - device.clock.now()
    assert isinstance(device.clock, OffsetClock)
    device.clock.advance(left - dt.timedelta(days=30))
    lab.say("the device's clock reaches 30 days before expiry (the profile renews at 20 %)")
    [second] = lab.run_device(device, enrol=False)
    expect(second.state == "renewed", f"the device ended {second.state}: {second.detail}")
    [new] = device.installed.values()
    expect(new.serial != old.serial, "the same certificate")
    expect(new.key.private.public_key() != old.key.private.public_key(), "the same key")
    lab.wait("the renewal's report", lambda: lab.row_for(name, new.serial))
    return f"serial {old.serial} renewed as {new.serial} with a new key, reported"
