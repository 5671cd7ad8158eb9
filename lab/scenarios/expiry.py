"""Certificates that run out, for their real reason: the lab's virtual clock passes the end of
the connector's identity certificate, or of NDES's RA certificates. The clock never goes back,
so these are never part of `--all`: run them by name, last (or on a lab you will reset)."""

from __future__ import annotations

import datetime as dt

import httpx
from cryptography import x509

from connector.settings import IDENTITY_CERT_FILE, IDENTITY_KEY_FILE
from device_sim.persona import Platform
from device_sim.scep_client import HTTP_E_STATUS_BASE
from shared import scep

from .. import faults, lab_api
from .base import RPC_S_SERVER_UNAVAILABLE, WINDOWS, Lab, expect, scenario
from .support import (
    connector_back,
    folder,
    hex32,
    new_devices,
    profile_id,
    reported_failure,
)

HTTP_500 = HTTP_E_STATUS_BASE | 500


def _move_clock_past(lab: Lab, point: str) -> dt.datetime:
    """Move the lab's clock an hour past the end `point` names (`faults.expiry_advance`)."""
    with lab.admin() as client:
        now = dt.datetime.fromisoformat(client.get("/lab/clock").json()["now"])
        seconds = faults.expiry_advance(lab.data, lab.state, point, now)
        moved = client.post("/lab/clock", json={"advanceSeconds": max(seconds, 1.0)})
    expect(moved.status_code == 200, f"the clock did not move: HTTP {moved.status_code}")
    lab_api.sync_clocks(lab.data, lab.state, float(moved.json()["offsetSeconds"]))
    later = dt.datetime.fromisoformat(moved.json()["now"])
    lab.say(f"the lab's clock moves {seconds / 86400:.0f} days, to {later:%Y-%m-%d %H:%M}")
    return later


def _identity(lab: Lab) -> x509.Certificate:
    pem = (lab.data / "connector" / IDENTITY_CERT_FILE).read_bytes()
    return x509.load_pem_x509_certificate(pem)


@scenario(
    "connector-cert-expired",
    "the connector's identity runs out: the cloud refuses it (0x800706BA); signed in again, works",
    for_good=True,
)
def connector_cert_expired(lab: Lab) -> str:
    old = _identity(lab)
    lab.say(f"the connector's identity certificate ends {old.not_valid_after_utc:%Y-%m-%d}")
    now = _move_clock_past(lab, "connector-cert-expired")
    expect(now > old.not_valid_after_utc, "the clock is not past the identity's end")
    found = lab.challenge(*WINDOWS)
    before = lab.ca_count()
    lab.refused(lab.enrol(found), RPC_S_SERVER_UNAVAILABLE)
    expect(lab.ca_count() == before, "the CA received a request")
    lab.say("the cloud refuses the connector's expired certificate: NDES answers 0x800706BA")
    for name in (IDENTITY_CERT_FILE, IDENTITY_KEY_FILE):
        (lab.data / "connector" / name).unlink()
    dead = lab_api.crash_connector(lab.data, lab.state)["instance"]
    lab.say("the administrator signs it in again (without an identity, `up` signs it in)")
    connector_back(lab, dead)
    new = _identity(lab)
    expect(new.not_valid_after_utc > now, "the new identity is out of date too")
    retried = lab.enrol(found)
    expect(retried.result.status is scep.PkiStatus.SUCCESS, "the retry was not issued")
    return (
        f"refused (0x800706BA, nothing at the CA) past {old.not_valid_after_utc:%Y-%m-%d}; "
        f"signed in again (until {new.not_valid_after_utc:%Y-%m-%d}), the same challenge issued"
    )


@scenario(
    "ra-expired",
    "NDES's RA certificates run out: HTTP 500 for every device, which reports it",
    for_good=True,
)
def ra_expired(lab: Lab) -> str:
    profile = profile_id(lab, WINDOWS[1])
    [(_, name)] = new_devices(lab, Platform.WINDOWS, 1, "RA")
    device = lab.device(name, Platform.WINDOWS, folder())
    _move_clock_past(lab, "ra-expired")
    health = httpx.get(f"{lab.state.url('ndes')}/health", timeout=10).json()
    expect(health["status"] == "degraded", f"NDES says it is {health['status']}")
    expect(not health["raSigning"]["valid"], "NDES's RA signing certificate is in date")
    lab.say(f"NDES's RA certificates ended {health['raSigning']['notAfter'][:10]}")
    before = lab.ca_count()
    [failed] = lab.run_device(device)
    expect(failed.state == "requestSubmitFailed", f"the device ended {failed.state}")
    expect(failed.hresult == HTTP_500, f"the device got {hex32(failed.hresult or 0)}")
    reported_failure(lab, name, profile, HTTP_500)
    expect(lab.ca_count() == before, "the CA received a request")
    lab.say(f"the device reported requestSubmitFailed, {hex32(HTTP_500)} (HTTP 500)")
    return f"every mscep.dll call answered 500; {hex32(HTTP_500)} in the cloud's report"
