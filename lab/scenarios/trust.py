"""Trust boundaries: the enterprise PKI's two tiers as the device learns them from its
trusted-certificate profiles, and the tenant a challenge belongs to."""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from device_sim.persona import Platform
from device_sim.scep_client import DeviceFailure
from device_sim.trust import verify_chain
from shared.api.entra import INTUNE_SCOPE, token_path
from shared.pki import LabCert, build_csr, generate_key
from shared.pki.keys import KeySpec

from ..challenge import find_id, request_spec
from ..home import tls_root_path
from .base import E_INVALIDARG, WINDOWS, Lab, ScenarioFailed, expect, scenario
from .support import folder, lab_ca, new_devices, profile_id, same_chain

OTHER_DEVICE = ("FAB-LAPTOP-01", "Fabrikam device certificate (Windows)")
VALIDATE_PATH = "/RACerts/ScepRequestValidationFEService/ScepActions/validateRequest"


def _trusted_profile_cert(lab: Lab, scep_profile: str) -> x509.Certificate:
    """The certificate of the trusted-certificate profile the SCEP profile names."""
    with lab.admin() as client:
        base = "/beta/deviceManagement/deviceConfigurations"
        root_id = client.get(f"{base}/{scep_profile}").json()["rootCertificate"]
        trusted = client.get(f"{base}/{root_id}").json()
    der = base64.b64decode(trusted["trustedRootCertificate"])
    lab.say(f"the SCEP profile names the trusted profile {trusted['displayName']!r}")
    return x509.load_der_x509_certificate(der)


@scenario("multi-tier", "trust through root and issuing CA profiles: root → issuing CA → leaf")
def multi_tier(lab: Lab) -> str:
    root, issuing = lab_ca(lab, LabCert.ROOT_CA), lab_ca(lab, LabCert.ISSUING_CA)
    named = _trusted_profile_cert(lab, profile_id(lab, WINDOWS[1]))
    expect(named == issuing, f"the SCEP profile names {named.subject.rfc4514_string()}")
    [(_, name)] = new_devices(lab, Platform.WINDOWS, 1, "TIER")
    before = lab.ca_count()
    device = lab.device(name, Platform.WINDOWS, folder())
    [outcome] = lab.run_device(device)
    expect(outcome.state == "installed", f"the device ended {outcome.state}: {outcome.detail}")
    store = list(device.trusted.values())
    expect(root in store and issuing in store, "the trust store lacks the root or the issuing CA")
    lab.say("its trust store holds the root (Trusted Root) and the issuing CA (Intermediate)")
    [installed] = device.installed.values()
    same_chain(installed.chain, issuing, root)
    lab.say("the chain it built and checked: leaf → Lab Issuing CA → Lab Enterprise Root CA")
    try:
        verify_chain(
            installed.certificate, intermediates=(), trusted=[issuing], now=device.clock.now()
        )
    except DeviceFailure:
        lab.say("without the root profile the same chain does not end in a trusted root")
    else:
        expect(False, "Windows accepted a chain that ends in an intermediate")
    [record] = lab.ca_requests(before)
    expect(int(record["serialNumber"], 16) == installed.certificate.serial_number, "another serial")
    lab.say(f"the CA's database: request {record['requestId']}, {record['subject']}, issued")
    row = lab.wait("the installed report", lambda: lab.row_for(name, installed.serial))
    expect(row["certificateIssuanceState"] == "installed", "the report does not say installed")
    return f"serial {installed.serial} chains root → issuing CA → leaf; the CA and the cloud agree"


def _app_validation(lab: Lab, found: dict[str, Any]) -> str:
    """The same kind of request checked by Contoso's own third-party CA app registration at the
    cloud's validation API (Microsoft's published one): the code it answers."""
    tenant = lab.state.tenant
    if tenant is None or tenant.app_secret is None:
        raise ScenarioFailed("lab.json holds no app secret for the demo tenant")
    key = generate_key(KeySpec.rsa(int(found["keySize"])))
    der = build_csr(key, request_spec(found)).public_bytes(serialization.Encoding.DER)
    verify = ssl.create_default_context(cafile=str(tls_root_path(lab.data)))
    with httpx.Client(base_url=lab.state.url("cloud"), verify=verify, timeout=30) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": tenant.app_id,
            "client_secret": tenant.app_secret,
            "scope": INTUNE_SCOPE,
        }
        token = client.post(token_path(tenant.tenant_id), data=form).json()["access_token"]
        answer = client.post(
            VALIDATE_PATH,
            headers={"Authorization": f"Bearer {token}", "api-version": "2018-02-20"},
            json={
                "request": {
                    "transactionId": f"cross-tenant-{dt.datetime.now(dt.UTC):%H%M%S%f}",
                    "certificateRequest": base64.b64encode(der).decode(),
                    "callerInfo": "scep-lab scenario",
                }
            },
        )
    expect(answer.status_code == 200, f"validateRequest: HTTP {answer.status_code}")
    code = str(answer.json()["code"])
    lab.say(f"Contoso's validation API answers {code} for a Fabrikam challenge")
    return code


@scenario("cross-tenant", "a challenge from another tenant, at this tenant's NDES: refused")
def cross_tenant(lab: Lab) -> str:
    found = lab.challenge(*OTHER_DEVICE, other=True)
    lab.say("Fabrikam's device presents it at Contoso's NDES (Contoso's connector)")
    before, mark = lab.ca_count(), lab.outbox_mark()
    exchange = lab.enrol(found)
    lab.refused(exchange, E_INVALIDARG)
    expect(lab.ca_count() == before, "the CA received a request")
    mine = [e for e in lab.outbox(mark)["entries"] if e["transactionId"] == exchange.transaction_id]
    expect(not mine, "the connector queued a report for a request it refused")
    with lab.admin(other=True) as client:
        device_id = find_id(client, OTHER_DEVICE[0], "device")
        path = f"/beta/deviceManagement/managedDevices/{device_id}/managedDeviceCertificateStates"
        states = {r["certificateIssuanceState"] for r in client.get(path).json()["value"]}
    expect(not states & {"challengeValidationSucceeded", "issued"}, f"Fabrikam shows {states}")
    code = _app_validation(lab, found)
    expect(code == "BadTenantIdInChallenge", f"the cloud answered {code}")
    return "refused (0x80070057, BadTenantIdInChallenge): nothing at the CA, nothing reported"
