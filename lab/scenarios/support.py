"""Steps several scenarios share: new devices made as an administrator would, a device's state
report for a profile, the connector's outbox watched until it has delivered, the lab PKI's CA
certificates, HRESULTs as Intune's reports hold them."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from device_sim.persona import Platform
from shared.pki import LabCert

from ..challenge import find_id
from ..devices import WINDOWS_GROUP, add_devices
from .base import Lab, ScenarioFailed, expect

NTE_BAD_ALGID = 0x80090008
CERTSRV_E_UNSUPPORTED_CERT_TYPE = 0x80094800
CERTSRV_E_TEMPLATE_DENIED = 0x80094012
DENIED = 31
ISSUED = 20


def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="scep-lab-scenario-"))


def signed(hresult: int) -> int:
    """An HRESULT as Intune's reports hold it: a signed 32-bit int."""
    value = hresult & 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def hex32(hresult: int) -> str:
    return f"0x{hresult & 0xFFFFFFFF:08X}"


def new_devices(
    lab: Lab, platform: Platform, count: int, prefix: str, group: str | None = None
) -> list[tuple[str, str]]:
    """`count` new devices (as `scep-lab devices add` makes them; Windows ones join the Windows
    group unless `group` names another): (device id, name) each."""
    if group is None and platform is Platform.WINDOWS:
        group = WINDOWS_GROUP
    with lab.admin() as client:
        names = add_devices(client, platform, count, group, prefix)
        made = [(find_id(client, name, "device"), name) for name in names]
    where = f" in {group}" if group else ""
    lab.say(f"{count} new {platform.value} device(s){where}: {', '.join(names)}")
    return made


def profile_id(lab: Lab, name: str) -> str:
    with lab.admin() as client:
        return find_id(client, name, "profile")


def profile_rows(lab: Lab, profile: str) -> list[dict[str, Any]]:
    """The cloud's state reports of the SCEP profile (id), every device's."""
    with lab.admin() as client:
        path = f"/beta/deviceManagement/deviceConfigurations/{profile}"
        answer = client.get(f"{path}/managedDeviceCertificateStates")
    expect(answer.status_code == 200, f"the profile's report: HTTP {answer.status_code}")
    rows: list[dict[str, Any]] = answer.json()["value"]
    return rows


def reported_failure(lab: Lab, device: str, profile: str, hresult: int) -> dict[str, Any]:
    """Wait (bounded) for the cloud's report of the device's failure for the profile (id), and
    check that it carries `hresult`. The report's row."""
    row = lab.wait("the device's failure report", lambda: failure_row(lab, device, profile))
    expect(row["certificateErrorCode"] == signed(hresult), f"the cloud shows {row}")
    return row


def failure_row(lab: Lab, device: str, profile: str) -> dict[str, Any] | None:
    """The device's report for the profile (id) that names no certificate: a failure's."""
    rows = [r for r in profile_rows(lab, profile) if r["deviceDisplayName"] == device]
    failed = [r for r in rows if not r.get("certificateSerialNumber")]
    return failed[0] if failed else None


def wait_delivered(
    lab: Lab,
    after: int,
    count: int,
    what: str,
    keep: Callable[[dict[str, Any]], bool] = lambda entry: True,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """The connector's reports after id `after` that `keep` selects, once `count` of them are
    delivered (bounded)."""

    def probe() -> list[dict[str, Any]] | None:
        entries = [e for e in lab.outbox(after)["entries"] if keep(e)]
        delivered = [e for e in entries if e["deliveredAt"]]
        return entries if len(delivered) >= count else None

    return lab.wait(what, probe, timeout=timeout)


def lab_ca(lab: Lab, label: LabCert) -> x509.Certificate:
    """The enterprise root or issuing CA, from the lab PKI's files."""
    return x509.load_pem_x509_certificate((lab.data / "pki" / f"{label.value}.pem").read_bytes())


def same_chain(chain: tuple[x509.Certificate, ...], *expected: x509.Certificate) -> None:
    """`chain` is leaf → `expected`..., each certificate signed by the next."""
    names = " → ".join(c.subject.rfc4514_string() for c in chain)
    expect(len(chain) == len(expected) + 1, f"the chain is {names}")
    expect(list(chain[1:]) == list(expected), f"the chain is {names}")
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise ScenarioFailed(f"{child.subject.rfc4514_string()}: {exc!r}") from exc


def outbox_now(lab: Lab) -> dict[str, Any] | None:
    """The connector's outbox, or None while it does not answer."""
    try:
        return lab.outbox()
    except httpx.TransportError:
        return None


def connector_back(lab: Lab, dead: str) -> dict[str, Any]:
    """Wait for another instance of the connector than `dead` to answer."""

    def probe() -> dict[str, Any] | None:
        found = outbox_now(lab)
        return found if found is not None and found["instance"] != dead else None

    return lab.wait("the connector back", probe, timeout=30)
