"""A device's whole SCEP exchange against a small NDES built on the lab's codec (httpx
MockTransport): PENDING, then CertPoll with the profile's retries until SUCCESS; the CA
thumbprint check; where the key is kept."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from device_sim.device import DeviceConfig, ManagedDevice
from device_sim.keys import KeyNotExportable, KeyStorage
from device_sim.persona import Platform
from device_sim.scep_client import CERT_E_UNTRUSTEDCA, thumbprint
from shared import scep
from shared.clock import FixedClock
from shared.pki import (
    CertProfile,
    LabCert,
    LabPki,
    build_lab_pki,
    default_lab_spec,
    issue_certificate,
    new_serial,
)

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    spec = default_lab_spec(b"device-flow", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    return build_lab_pki(spec, tmp_path_factory.mktemp("pki"))


class MiniNdes:
    """GetCACaps, GetCACert, and PKIOperation answering PENDING to the PKCSReq and to the first
    `pending_polls` CertPolls, then SUCCESS with a certificate from the issuing CA."""

    def __init__(self, pki: LabPki, pending_polls: int) -> None:
        self.pki = pki
        self.pending_polls = pending_polls
        self.seen: list[str] = []
        self.csr: x509.CertificateSigningRequest | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        operation = request.url.params.get("operation")
        self.seen.append(str(operation))
        if operation == "GetCACaps":
            return httpx.Response(200, text="POSTPKIOperation\nSHA-256\nAES\n")
        p = self.pki
        if operation == "GetCACert":
            certs = [p.cert(LabCert.NDES_RA_SIGN), p.cert(LabCert.NDES_RA_ENCRYPT)]
            body = scep.build_certs_only(
                [*certs, p.cert(LabCert.ISSUING_CA), p.cert(LabCert.ROOT_CA)]
            )
            return httpx.Response(200, content=body, headers={"content-type": scep.CA_RA_CERT})
        opened = scep.open_request(
            request.content,
            certificate=p.cert(LabCert.NDES_RA_ENCRYPT),
            key=p.key(LabCert.NDES_RA_ENCRYPT),  # type: ignore[arg-type]
        )
        kind = opened.message.message_type
        self.seen[-1] = kind.name
        ctx = opened.message.reply_context
        ra = {"ra_cert": p.cert(LabCert.NDES_RA_SIGN), "ra_key": p.key(LabCert.NDES_RA_SIGN)}
        if kind is scep.MessageType.PKCS_REQ:
            self.csr = x509.load_der_x509_csr(opened.csr_der)
        polls = self.seen.count("CERT_POLL")
        if kind is scep.MessageType.PKCS_REQ or polls <= self.pending_polls:
            return httpx.Response(200, content=scep.build_pending(ctx, **ra))  # type: ignore[arg-type]
        assert self.csr is not None
        issued = issue_certificate(
            subject=self.csr.subject,
            public_key=self.csr.public_key(),  # type: ignore[arg-type]
            issuer_cert=p.cert(LabCert.ISSUING_CA),
            issuer_key=p.key(LabCert.ISSUING_CA),
            serial=new_serial(),
            not_before=NOW - dt.timedelta(minutes=1),
            profile=CertProfile(validity=dt.timedelta(days=365), ekus=("1.3.6.1.5.5.7.3.2",)),
        )
        body = scep.build_success(
            ctx,
            certificates=[issued, p.cert(LabCert.ISSUING_CA)],
            cipher=scep.ContentCipher.AES_128_CBC,
            **ra,  # type: ignore[arg-type]
        )
        return httpx.Response(200, content=body)


def _b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


def _device(
    pki: LabPki, ndes: MiniNdes, tmp_path: Path, reports: list[dict[str, Any]], **profile: Any
) -> ManagedDevice:
    scep_profile = {
        "profileId": "p-1",
        "displayName": "Lab SCEP",
        "challenge": "Q0hBTExFTkdF",
        "subjectName": "CN=DEVICE-1",
        "subjectAlternativeNames": [{"type": "dns", "value": "device-1.lab.test"}],
        "extendedKeyUsages": ["1.3.6.1.5.5.7.3.2"],
        "keyUsage": ["digital_signature", "key_encipherment"],
        "keySize": 2048,
        "scepServerUrls": ["https://ndes.lab.test/certsrv/mscep/mscep.dll"],
        "caThumbprint": thumbprint(pki.cert(LabCert.ISSUING_CA)),
        "certificateType": "device",
        "keyStorageProvider": "useTpmKspOtherwiseFail",
        "retryCount": 3,
        "retryDelaySeconds": 60,
    } | profile
    trusted = [
        {"profileId": f"t-{n}", "certificate": _b64(pki.cert(label))}
        for n, label in enumerate((LabCert.ROOT_CA, LabCert.ISSUING_CA))
    ]

    def cloud(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/devices/checkin":
            return httpx.Response(
                200,
                json={"deviceId": "d-1", "trustedCertificates": trusted,
                      "scepProfiles": [scep_profile]},
            )  # fmt: skip
        reports.append(json.loads(request.content))
        return httpx.Response(204)

    return ManagedDevice(
        "d-1",
        "DEVICE-1",
        Platform.ANDROID,
        tmp_path,
        FixedClock(NOW),
        cloud_http=lambda _c, _k: httpx.AsyncClient(
            transport=httpx.MockTransport(cloud), base_url="https://cloud.test"
        ),
        config=DeviceConfig(retry_delay_seconds=0),
        scep_transport=httpx.MockTransport(ndes),
    )


async def test_pending_then_polls_until_issued_and_installed(pki: LabPki, tmp_path: Path) -> None:
    ndes = MiniNdes(pki, pending_polls=2)
    reports: list[dict[str, Any]] = []
    device = _device(pki, ndes, tmp_path, reports)

    [outcome] = await device.check_in()

    assert outcome.state == "installed", outcome
    assert ndes.seen == [
        "GetCACaps", "GetCACert", "PKCS_REQ", "CERT_POLL", "CERT_POLL", "CERT_POLL"
    ]  # fmt: skip
    assert [r["state"] for r in reports] == ["issuePending"] * 3 + ["installed"]
    installed = device.installed["p-1"]
    assert installed.chain[-1] == pki.cert(LabCert.ISSUING_CA)  # Android: an installed CA
    assert installed.key.storage is KeyStorage.TPM  # useTpmKspOtherwiseFail
    with pytest.raises(KeyNotExportable):
        installed.key.export_pem()


async def test_pending_past_the_retries_is_reported(pki: LabPki, tmp_path: Path) -> None:
    ndes = MiniNdes(pki, pending_polls=10)
    reports: list[dict[str, Any]] = []
    [outcome] = await _device(pki, ndes, tmp_path, reports, retryCount=2).check_in()
    assert outcome.state == "issuePending"
    assert ndes.seen.count("CERT_POLL") == 2
    assert reports[-1]["state"] == "issuePending" and reports[-1]["hResult"] < 0


async def test_a_ca_that_is_not_the_profiles_is_refused(pki: LabPki, tmp_path: Path) -> None:
    ndes = MiniNdes(pki, pending_polls=0)
    reports: list[dict[str, Any]] = []
    device = _device(pki, ndes, tmp_path, reports, caThumbprint="00" * 20)
    [outcome] = await device.check_in()
    assert (outcome.state, outcome.hresult) == ("requestSubmitFailed", CERT_E_UNTRUSTEDCA)
    assert "PKCS_REQ" not in ndes.seen
    assert reports == [
        {"profileId": "p-1", "state": "requestSubmitFailed", "hResult": CERT_E_UNTRUSTEDCA - 2**32}
    ]


async def test_a_software_key_exports(pki: LabPki, tmp_path: Path) -> None:
    ndes = MiniNdes(pki, pending_polls=0)
    device = _device(pki, ndes, tmp_path, [], keyStorageProvider="useSoftwareKsp")
    [outcome] = await device.check_in()
    assert outcome.state == "installed"
    assert device.installed["p-1"].key.export_pem().startswith(b"-----BEGIN PRIVATE KEY-----")
