"""`scep-lab up` with the fake Intune cloud: HTTPS on loopback with the lab's TLS root, a demo
tenant seeded at start-up whose credentials `scep-lab info` hands out, tokens from the token
endpoint for the app and the administrator, the admin API and the discovery answering them, and
a second `up` on the same folder finding the same tenant rather than making another."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.home import LabState, tls_root_path
from lab.procs import wait_http
from tests.support.labproc import new_lab, scep_lab, start_up, stop_up

pytestmark = pytest.mark.e2e

INTUNE_SCOPE = "https://api.manage.microsoft.com//.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SEEDED_DEVICES = {"LAB-LAPTOP-01", "LAB-IPHONE-01", "LAB-MAC-01", "LAB-PIXEL-01"}
START_TIMEOUT = 120.0


def _log(data: Path) -> str:
    return (data / "up.log").read_text()[-3000:]


def _trust(data: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_root_path(data)))


def _wait_cloud(data: Path, state: LabState, proc: subprocess.Popen[bytes]) -> None:
    """Until the cloud answers /health over HTTPS, verified against the lab's TLS root (which
    `up` writes before the cloud starts; the seed is done before the cloud answers)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"`up` exited with {proc.returncode}:\n{_log(data)}"
        if tls_root_path(data).exists():
            try:
                health = httpx.get(f"{state.url('cloud')}/health", verify=_trust(data), timeout=2)
            except httpx.HTTPError:
                pass
            else:
                assert health.json() == {"status": "ok", "party": "cloud"}
                return
        time.sleep(0.2)
    pytest.fail(f"the cloud did not answer within {START_TIMEOUT:.0f} s:\n{_log(data)}")


def _info(data: Path) -> dict[str, Any]:
    result = scep_lab("info", "--json", "--data", data)
    assert result.returncode == 0, result.stdout + result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def _token(client: httpx.Client, info: dict[str, Any], **form: str) -> str:
    response = client.post(info["urls"]["token_endpoint"], data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _app_token(client: httpx.Client, info: dict[str, Any], scope: str) -> str:
    app = info["app"]
    form = {"client_id": app["app_id"], "client_secret": app["secret"], "scope": scope}
    return _token(client, info, grant_type="client_credentials", **form)


def _admin_token(client: httpx.Client, info: dict[str, Any]) -> str:
    admin = info["administrator"]
    form = {"client_id": admin["client_id"], "username": admin["upn"], "scope": GRAPH_SCOPE}
    return _token(client, info, grant_type="password", password=admin["password"], **form)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _devices(client: httpx.Client, info: dict[str, Any]) -> list[str]:
    token = _admin_token(client, info)
    listed = client.get(
        f"{info['urls']['graph']}/managedDevices", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200, listed.text
    return sorted(device["deviceName"] for device in listed.json()["value"])


def _challenge_validates(cloud: httpx.Client, data: Path, info: dict[str, Any]) -> None:
    """`scep-lab challenge --json` for the seeded laptop, a CSR built from what it says, and
    Microsoft's validation API (as a third-party CA would call it) answers Success; the same CSR
    with another subject answers SubjectNameMismatch."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from shared.pki import CsrSpec, KeySpec, San, build_csr, generate_key

    shown = scep_lab("challenge", "--json", "--data", data)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    found = json.loads(shown.stdout)
    assert found["subject"] == "CN=LAB-LAPTOP-01"
    assert found["scepServerUrls"] == [info["urls"]["ndes_scep"]]
    token = _app_token(cloud, info, INTUNE_SCOPE)
    url = f"{info['urls']['validation_service']}/ScepActions/validateRequest"
    for subject, code in (
        ("CN=Administrator", "SubjectNameMismatch"),  # refused: the challenge stays free
        (found["subject"], "Success"),  # from here the challenge is this request's
    ):
        key = generate_key(KeySpec("rsa", found["keySize"]))
        csr = build_csr(
            key,
            CsrSpec(
                subject=x509.Name.from_rfc4514_string(subject),
                sans=tuple(San(s["type"], s["value"]) for s in found["subjectAlternativeNames"]),
                ekus=tuple(found["extendedKeyUsages"]),
                key_usage=frozenset(found["keyUsage"]),
                challenge_password=found["challenge"],
            ),
        )
        der = csr.public_bytes(serialization.Encoding.DER)
        answer = cloud.post(
            url,
            headers={"Authorization": f"Bearer {token}", "api-version": "2018-02-20"},
            json={
                "request": {
                    "transactionId": f"e2e-{code}",
                    "certificateRequest": base64.b64encode(der).decode(),
                    "callerInfo": "e2e",
                }
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["code"] == code, answer.text


def _connector_signs_in_and_uses_mutual_tls(
    cloud: httpx.Client, data: Path, info: dict[str, Any]
) -> None:
    """Over real TLS: sign-in gives an identity certificate; with it the connector API answers;
    without one it is 401; a client certificate from another CA fails the handshake."""
    import base64
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    from shared.pki import (
        CertProfile,
        CsrSpec,
        KeySpec,
        build_csr,
        generate_key,
        issue_certificate,
        new_serial,
        private_key_pem,
    )

    key = generate_key(KeySpec("rsa", 2048))
    csr = build_csr(
        key, CsrSpec(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NDES01")]))
    )
    signed_in = cloud.post(
        f"{info['urls']['cloud']}/connector/enroll",
        headers={"Authorization": f"Bearer {_admin_token(cloud, info)}"},
        json={
            "certificateRequest": base64.b64encode(
                csr.public_bytes(serialization.Encoding.DER)
            ).decode(),
            "machineName": "NDES01.contoso-lab.test",
        },
    )
    assert signed_in.status_code == 200, signed_in.text
    cert = x509.load_der_x509_certificate(base64.b64decode(signed_in.json()["certificate"]))
    (data / "connector.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (data / "connector.key.pem").write_bytes(private_key_pem(key))
    mtls = _trust(data)
    mtls.load_cert_chain(data / "connector.pem", data / "connector.key.pem")
    heartbeat = f"{info['urls']['cloud']}/connector/heartbeat"
    with httpx.Client(verify=mtls, timeout=10) as connector:
        assert connector.post(heartbeat, json={"connectorVersion": "6.2405.1.0"}).status_code == 204
    assert cloud.post(heartbeat, json={}).status_code == 401

    rogue_key = generate_key(KeySpec("rsa", 2048))
    rogue = issue_certificate(
        subject=cert.subject,
        public_key=rogue_key.public_key(),
        issuer_cert=None,
        issuer_key=rogue_key,
        serial=new_serial(),
        not_before=dt.datetime.now(dt.UTC),
        profile=CertProfile(validity=dt.timedelta(days=30), ekus=("1.3.6.1.5.5.7.3.2",)),
    )
    (data / "rogue.pem").write_bytes(rogue.public_bytes(serialization.Encoding.PEM))
    (data / "rogue.key.pem").write_bytes(private_key_pem(rogue_key))
    forged = _trust(data)
    forged.load_cert_chain(data / "rogue.pem", data / "rogue.key.pem")
    with (
        httpx.Client(verify=forged, timeout=10) as intruder,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        intruder.post(heartbeat, json={})


def test_up_seeds_the_cloud_once_and_hands_out_its_credentials(tmp_path: Path) -> None:
    data = tmp_path / "lab"
    state = new_lab(data)  # policy intune: the connector signs in at the first start

    proc = start_up(data)
    try:
        _wait_cloud(data, state, proc)
        info = _info(data)
        tenant_id = info["tenant"]["id"]
        assert info["tenant"]["domain"] == "contoso-lab.onmicrosoft.com"
        assert info["tls_root"] == str(tls_root_path(data))
        assert info["urls"]["token_endpoint"] == (
            f"{state.url('cloud')}/{tenant_id}/oauth2/v2.0/token"
        )
        assert info["urls"]["ndes_scep"] == state.scep_url
        assert info["administrator"]["password"] and info["app"]["secret"]
        assert info["app"]["permissions"] == ["Application.Read.All", "scep_challenge_provider"]
        assert (data / "lab.json").stat().st_mode & 0o077 == 0

        with httpx.Client(verify=_trust(data), timeout=10) as cloud:
            intune = _claims(_app_token(cloud, info, INTUNE_SCOPE))
            assert intune["tid"] == tenant_id
            assert intune["roles"] == ["scep_challenge_provider"]
            graph_token = _app_token(cloud, info, GRAPH_SCOPE)
            discovered = cloud.get(
                info["urls"]["discovery"], headers={"Authorization": f"Bearer {graph_token}"}
            )
            assert discovered.status_code == 200, discovered.text
            services = {e["capability"]: e["uri"] for e in discovered.json()["value"]}
            assert services == {
                "ScepRequestValidationFEService": info["urls"]["validation_service"],
                "PkiConnectorFEService": info["urls"]["pki_connector_service"],
            }
            devices = _devices(cloud, info)
            assert set(devices) == SEEDED_DEVICES

            _challenge_validates(cloud, data, info)
            _connector_signs_in_and_uses_mutual_tls(cloud, data, info)

        wait_http(f"{state.url('ndes')}/health", timeout=START_TIMEOUT, proc=proc)
        status = scep_lab("status", "--data", data)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "cloud" in status.stdout and "connector" in status.stdout
    finally:
        assert stop_up(proc) == 0, _log(data)
    stored = b"".join(path.read_bytes() for path in (data / "cloud").glob("cloud.db*"))
    for secret in (info["administrator"]["password"], info["app"]["secret"]):
        assert secret.encode() not in stored  # the cloud keeps hashes only

    proc = start_up(data)
    try:
        _wait_cloud(data, state, proc)
        again = _info(data)
        assert again == info  # same tenant, same credentials, still working
        with httpx.Client(verify=_trust(data), timeout=10) as cloud:
            assert _devices(cloud, again) == devices
            assert _claims(_app_token(cloud, again, INTUNE_SCOPE))["tid"] == tenant_id
    finally:
        assert stop_up(proc) == 0, _log(data)


def test_info_without_a_lab(tmp_path: Path) -> None:
    result = scep_lab("info", "--json", "--data", tmp_path / "nothing")
    assert result.returncode == 2
    assert "scep-lab up" in result.stderr
    assert result.stdout == ""
