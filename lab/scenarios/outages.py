"""Parties failing under the chain: the connector killed with reports queued or stopped for a
while, the CA refusing or down, NDES's template values wrong. Each checks what the device got
and what every party recorded (the CA's database, the connector's outbox, the cloud's report)."""

from __future__ import annotations

from typing import Any

from device_sim.persona import Platform
from shared import scep
from shared.api.ca import Disposition

from .. import lab_api
from .base import RPC_S_SERVER_UNAVAILABLE, WINDOWS, Lab, expect, scenario
from .support import (
    CERTSRV_E_TEMPLATE_DENIED,
    CERTSRV_E_UNSUPPORTED_CERT_TYPE,
    DENIED,
    connector_back,
    failure_row,
    folder,
    hex32,
    new_devices,
    outbox_now,
    profile_id,
    reported_failure,
    signed,
    wait_delivered,
)

STOPPED_SECONDS = 4.0
WRONG_TEMPLATE = "Intune Device Certificate"
"""The device template's display name, where NDES wants its name (IntuneDeviceCert)."""


@scenario("connector-restart", "the connector killed with reports queued: nothing lost, once each")
def connector_restart(lab: Lab) -> str:
    made = new_devices(lab, Platform.WINDOWS, 3, "RESTART")
    mark = lab.outbox_mark()
    served: dict[str, tuple[str, str]] = {}  # transaction ID → device, serial
    with lab.fault("notification"):
        lab.say("the cloud loses every notification (HTTP 503) until cleared")
        for _, name in made:
            exchange = lab.enrol(lab.challenge(name, WINDOWS[1]))
            expect(exchange.result.status is scep.PkiStatus.SUCCESS, f"{name} got nothing")
            served[exchange.transaction_id] = (name, f"{exchange.certificate.serial_number:x}")

        def tried() -> list[dict[str, Any]] | None:
            mine = [e for e in lab.outbox(mark)["entries"] if e["transactionId"] in served]
            ready = len(mine) == len(served) and all(e["attempts"] >= 1 for e in mine)
            return mine if ready else None

        queued = lab.wait("the reports tried and queued", tried)
        expect(not any(e["deliveredAt"] for e in queued), "a report got through the fault")
        attempts = sum(e["attempts"] for e in queued)
        lab.say(f"the connector's outbox: {len(queued)} reports pending, {attempts} attempts")
        dead = lab_api.crash_connector(lab.data, lab.state)["instance"]
        lab.say("the connector is killed (as kill -9) and its service restarted")
        back = connector_back(lab, dead)
        kept = [e for e in back["entries"] if e["transactionId"] in served]
        expect(len(kept) == len(served), f"after the restart the outbox holds {len(kept)}")
        expect(not any(e["deliveredAt"] for e in kept), "a report was delivered meanwhile")
        lab.say(f"a new connector from the same data folder: {len(kept)} reports still queued")
    lab.say("the cloud takes notifications again")
    delivered = wait_delivered(
        lab, mark, len(served), "the reports", lambda e: e["transactionId"] in served, 120
    )
    expect(len(delivered) == len(served), f"{len(delivered)} reports for {len(served)} requests")
    for name, serial in served.values():
        rows = [r for r in lab.report(name) if r.get("certificateSerialNumber") == serial]
        expect(len(rows) == 1, f"{name}: {len(rows)} rows for serial {serial}")
        expect(rows[0]["certificateIssuanceState"] == "issued", f"{name}: {rows[0]}")
    tries = ", ".join(str(e["attempts"]) for e in delivered)
    return f"3 certificates reported issued once each, after the restart (attempts {tries})"


@scenario("connector-stopped", "the connector stopped: NDES answers 0x800706BA; back, it works")
def connector_stopped(lab: Lab) -> str:
    found = lab.challenge(*WINDOWS)
    before = lab.ca_count()
    dead = lab_api.crash_connector(lab.data, lab.state, STOPPED_SECONDS)["instance"]
    lab.wait("the connector down", lambda: outbox_now(lab) is None, timeout=10)
    lab.say(f"the connector's service stops ({STOPPED_SECONDS:.0f} s until it is restarted)")
    lab.refused(lab.enrol(found), RPC_S_SERVER_UNAVAILABLE)
    expect(lab.ca_count() == before, "the CA received a request")
    connector_back(lab, dead)
    lab.say("the connector is back")
    retried = lab.enrol(found)
    expect(retried.result.status is scep.PkiStatus.SUCCESS, "the retry was not issued")
    return "refused (0x800706BA, nothing at the CA) while stopped; the same challenge after"


def _refused_by_ca(lab: Lab, point: str, expected: int, **options: Any) -> list[dict[str, Any]]:
    """A challenge for the laptop refused for the CA's reason; the failure reported; the same
    challenge issued afterwards (the failure released it). The CA's records of the refusal."""
    profile = profile_id(lab, WINDOWS[1])
    found = lab.challenge(*WINDOWS)
    before, mark = lab.ca_count(), lab.outbox_mark()
    with lab.fault(point, **options):
        exchange = lab.enrol(found)
    lab.refused(exchange, expected)
    records = lab.ca_requests(before)
    for record in records:
        state = Disposition(int(record["disposition"])).name
        code = hex32(int(record["hresult"]))
        lab.say(f"the CA's database: request {record['requestId']} {state}, {code}")
    if not records:
        lab.say("the CA's database: no record of it")
    tid = exchange.transaction_id
    [report] = wait_delivered(lab, mark, 1, "its report", lambda e: e["transactionId"] == tid)
    expect(report["kind"] == "failure", f"the connector reported {report['kind']}")
    expect(report["hResult"] == signed(expected), f"it reported {report['hResult']}")
    row = failure_row(lab, WINDOWS[0], profile)
    expect(row is not None and row["certificateErrorCode"] == signed(expected), f"cloud: {row}")
    lab.say(f"the connector reported the failure ({hex32(expected)}); the cloud's report shows it")
    retried = lab.enrol(found)
    expect(retried.result.status is scep.PkiStatus.SUCCESS, "the retry was not issued")
    return records


@scenario("ca-refusing", "the CA denies the request: FAILURE with its HRESULT, reported; retry ok")
def ca_refusing(lab: Lab) -> str:
    code = CERTSRV_E_TEMPLATE_DENIED
    lab.say(f"the CA's policy module denies the next request with {hex32(code)}")
    [denied] = _refused_by_ca(lab, "ca-refusing", code, hresult=hex32(code), times=1)
    expect(int(denied["disposition"]) == DENIED, f"the CA recorded {denied['disposition']}")
    expect(int(denied["hresult"]) & 0xFFFFFFFF == code, f"the CA recorded {denied['hresult']}")
    return f"denied {hex32(code)} (recorded DENIED at the CA, reported), then issued"


@scenario("ca-down", "the CA is down: FAILURE 0x800706BA, nothing recorded, reported; retry ok")
def ca_down(lab: Lab) -> str:
    lab.say("the CA's request API answers HTTP 503 (the certificate service is stopped)")
    recorded = _refused_by_ca(lab, "ca-down", RPC_S_SERVER_UNAVAILABLE)
    expect(not recorded, f"the CA recorded {len(recorded)} request(s) while it was down")
    return "0x800706BA while the CA was down (nothing in its database, reported), then issued"


@scenario("wrong-template-mapping", "NDES maps to a template the CA does not offer: 0x80094800")
def wrong_template_mapping(lab: Lab) -> str:
    profile = profile_id(lab, WINDOWS[1])
    [(_, name)] = new_devices(lab, Platform.WINDOWS, 1, "TEMPLATE")
    device = lab.device(name, Platform.WINDOWS, folder())
    before, mark = lab.ca_count(), lab.outbox_mark()
    code = CERTSRV_E_UNSUPPORTED_CERT_TYPE
    with lab.fault("ndes-template", template=WRONG_TEMPLATE, slot="general-purpose"):
        lab.say(f"NDES's GeneralPurposeTemplate now reads {WRONG_TEMPLATE!r} (a display name)")
        [failed] = lab.run_device(device)
    expect(failed.state == "issueFailed", f"the device ended {failed.state}")
    expect(failed.hresult == code, f"the device got {hex32(failed.hresult or 0)}")
    [record] = lab.ca_requests(before)
    expect(int(record["disposition"]) == DENIED, f"the CA recorded {record['disposition']}")
    expect(record["template"] == WRONG_TEMPLATE, f"the CA recorded {record['template']}")
    lab.say(f"the CA's database: {record['dispositionMessage'].split(' (templates')[0]}")
    [report] = wait_delivered(lab, mark, 1, "the failure report")
    expect(report["hResult"] == signed(code), f"the connector reported {report['hResult']}")
    reported_failure(lab, name, profile, code)
    lab.say(f"the device and the connector reported issueFailed, {hex32(code)}")
    [again] = lab.run_device(device, enrol=False)
    expect(again.state == "installed", f"with the mapping restored the device ended {again.state}")
    return f"{hex32(code)} from the CA (denied, recorded, reported); installed once restored"
