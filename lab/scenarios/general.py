"""The general SCEP workflow: NDES with its own one-time passwords and no Intune module (the
second NDES `scep-lab up` serves beside Intune's), and the weakness the Intune module closes."""

from __future__ import annotations

from typing import Any

import httpx

from shared import scep
from shared.pki import LabCert

from ..ndes_admin import password_on_page
from .base import WINDOWS, Lab, ScenarioFailed, expect, scenario
from .support import ISSUED, hex32, lab_ca, same_chain

CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
CERT_E_WRONG_USAGE = 0x800B0110


def _one_time_password(lab: Lab) -> str:
    """What an administrator reads on the general NDES's mscep_admin page."""
    url = f"{lab.state.url('ndes_general')}/certsrv/mscep_admin/"
    try:
        page = httpx.get(
            url, auth=(lab.state.ndes_admin_user, lab.state.ndes_admin_password), timeout=10
        )
    except httpx.ConnectError as exc:
        raise ScenarioFailed(
            f"the general-workflow NDES does not answer at {url} (`scep-lab up` serves it with "
            "--policy intune)"
        ) from exc
    password = password_on_page(page.content)
    if page.status_code != 200 or password is None:
        raise ScenarioFailed(f"no password on the admin page (HTTP {page.status_code})")
    lab.say(f"an administrator reads a one-time password on {url} for {WINDOWS[0]}")
    return password


def _request(password: str, subject: str) -> dict[str, Any]:
    """What the device's request holds (`Lab.enrol` reads a challenge answer's shape)."""
    return {
        "subject": subject,
        "subjectAlternativeNames": [],
        "extendedKeyUsages": [CLIENT_AUTH],
        "keyUsage": ["digital_signature", "key_encipherment"],
        "keySize": 2048,
        "challenge": password,
    }


@scenario(
    "general-scep-impersonation",
    "one-time-password NDES: a password obtained for one device buys another identity",
)
def general_scep_impersonation(lab: Lab) -> str:
    url = f"{lab.state.url('ndes_general')}/certsrv/mscep/mscep.dll"
    password = _one_time_password(lab)
    before, mark = lab.ca_count(), lab.outbox_mark()
    lab.say("the device asks for CN=Administrator instead, with that password")
    exchange = lab.enrol(_request(password, "CN=Administrator"), url=url)
    status = exchange.result.status
    expect(status is scep.PkiStatus.SUCCESS, f"NDES answered {status.name}")
    certificate = exchange.certificate
    subject = certificate.subject.rfc4514_string()
    expect(subject == "CN=Administrator", f"the certificate is for {subject}")
    root, issuing = lab_ca(lab, LabCert.ROOT_CA), lab_ca(lab, LabCert.ISSUING_CA)
    same_chain((certificate, issuing, root), issuing, root)
    [record] = lab.ca_requests(before)
    expect(
        record["subject"] == "CN=Administrator" and int(record["disposition"]) == ISSUED,
        f"the CA recorded {record['subject']}, disposition {record['disposition']}",
    )
    lab.say(f"the CA issued request {record['requestId']}, requested by {record['requester']}")
    tid = exchange.transaction_id
    reported = [e for e in lab.outbox(mark)["entries"] if e["transactionId"] == tid]
    expect(not reported, "Intune's connector heard of the request")
    again = lab.enrol(_request(password, "CN=Administrator"), url=url)
    got = (again.result.hresult or 0) & 0xFFFFFFFF
    expect(again.result.status is scep.PkiStatus.FAILURE, "the password worked twice")
    expect(got == CERT_E_WRONG_USAGE, f"the second use was refused with {hex32(got)}")
    lab.say(f"the same password again: FAILURE {hex32(got)} (single use, but bound to nothing)")
    return (
        f"issued CN=Administrator (serial {certificate.serial_number:x}) to a password meant for "
        f"{WINDOWS[0]}: NDES checked the password and only the password; Intune never knew"
    )
