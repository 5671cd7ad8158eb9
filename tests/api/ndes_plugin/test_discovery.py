"""GetCACaps, GetCACert, GetNextCACert, paths, the bare mscep.dll page, /health."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from shared import scep
from shared.pki import (
    CertProfile,
    KeySpec,
    generate_key,
    issue_certificate,
    new_serial,
    read_key_usage,
)
from shared.scep.signed import verify
from tests.api.ndes_plugin.conftest import MSCEP, Ndes, StartNdes
from tests.api.ndes_plugin.fakeca import CaPki
from tests.api.ndes_plugin.helpers import name

CRA = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.1")


async def test_get_ca_caps_is_the_configured_list_crlf(ndes: Ndes) -> None:
    response = await ndes.client.get(f"{MSCEP}?operation=GetCACaps&message=default")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain"
    assert (
        response.text
        == "POSTPKIOperation\r\nRenewal\r\nSHA-512\r\nSHA-256\r\nSHA-1\r\nDES3\r\nAES\r\n"
    )


async def test_get_ca_caps_from_env_style_setting(start_ndes: StartNdes) -> None:
    async with start_ndes(caps="Renewal, SHA-256,DES3") as ndes:
        response = await ndes.client.get(f"{MSCEP}?operation=GetCACaps")
    assert response.text == "Renewal\r\nSHA-256\r\nDES3\r\n"


async def test_get_ca_cert_ra_sign_ra_encrypt_issuing_root(ndes: Ndes, ca_pki: CaPki) -> None:
    response = await ndes.client.get(f"{MSCEP}?operation=GetCACert&message=ca")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-x509-ca-ra-cert"
    certs, crls = scep.parse_certs_only(response.content)
    assert crls == ()
    sign, encrypt, issuing, root = certs
    assert (issuing, root) == (ca_pki.issuing, ca_pki.root)
    assert read_key_usage(sign.extensions.get_extension_for_class(x509.KeyUsage).value) == {
        "digital_signature"
    }
    assert read_key_usage(encrypt.extensions.get_extension_for_class(x509.KeyUsage).value) == {
        "key_encipherment"
    }
    for ra in (sign, encrypt):
        assert ra.issuer == ca_pki.issuing.subject
        assert CRA in ra.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/certsrv/mscep/mscep.dll", "GetCACaps"),
        ("/CertSrv/mscep/mscep.dll", "getcacaps"),
        ("/CERTSRV/MSCEP/MSCEP.DLL", "GETCACAPS"),
        ("/certsrv/mscep/mscep.dll/pkiclient.exe", "GetCACaps"),
        ("/CertSrv/MSCEP/mscep.dll/PKIClient.exe", "getCACaps"),
        ("/certsrv/mscep/mscep.dll/", "GetCACaps"),
    ],
)
async def test_paths_and_operation_names_in_any_case(ndes: Ndes, path: str, operation: str) -> None:
    response = await ndes.client.get(f"{path}?Operation={operation}&message=SCEP%20Authority")
    assert response.status_code == 200
    assert "SHA-256" in response.text.split("\r\n")
    cert = await ndes.client.get(f"{path}?operation=GetCACert")
    assert cert.headers["content-type"] == scep.CA_RA_CERT


async def test_unknown_operation_is_404(ndes: Ndes) -> None:
    assert (await ndes.client.get(f"{MSCEP}?operation=GetSomething")).status_code == 404
    assert (await ndes.client.post(MSCEP, content=b"\x30\x00")).status_code == 404
    assert (
        await ndes.client.get("/certsrv/mscep/other.dll?operation=GetCACaps")
    ).status_code == 404


async def test_get_next_ca_cert_without_rollover_is_404(ndes: Ndes) -> None:
    assert (await ndes.client.get(f"{MSCEP}?operation=GetNextCACert")).status_code == 404


async def test_get_next_ca_cert_signed_by_the_ra(
    start_ndes: StartNdes, ca_pki: CaPki, tmp_path: Path
) -> None:
    key = generate_key(KeySpec.rsa(2048))
    rollover = issue_certificate(
        subject=name("Lab Issuing CA 2", "Lab"),
        public_key=key.public_key(),
        issuer_cert=ca_pki.root,
        issuer_key=ca_pki.root_key,
        serial=new_serial(),
        not_before=dt.datetime.now(dt.UTC),
        profile=CertProfile(validity=dt.timedelta(days=365), is_ca=True),
    )
    path = tmp_path / "rollover.pem"
    path.write_bytes(rollover.public_bytes(Encoding.PEM))
    async with start_ndes(next_ca_cert_path=path) as ndes:
        response = await ndes.client.get(f"{MSCEP}?operation=GetNextCACert")
        assert response.status_code == 200
        assert response.headers["content-type"] == scep.NEXT_CA_CERT
        outer = verify(response.content)
        assert outer.signer == ndes.ra_sign
        assert scep.parse_certs_only(outer.content or b"")[0] == (rollover,)


async def test_bare_get_shows_the_ndes_page_without_intune_module(ndes: Ndes) -> None:
    response = await ndes.client.get(MSCEP)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    page = response.content.decode("utf-16")
    assert "Network Device Enrollment Service allows you to obtain certificates" in page
    assert "mscep_admin" in page


async def test_bare_get_is_403_with_intune_module(start_ndes: StartNdes) -> None:
    async with start_ndes(intune_module_installed=True) as ndes:
        assert (await ndes.client.get(MSCEP)).status_code == 403
        assert (await ndes.client.get(f"{MSCEP}/pkiclient.exe")).status_code == 403
        # the SCEP operations are unaffected
        assert (await ndes.client.get(f"{MSCEP}?operation=GetCACaps")).status_code == 200


async def test_health_reports_ra_expiry_and_ca_reachability(ndes: Ndes) -> None:
    body = (await ndes.client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["ca"]["reachable"] is True
    assert body["raSigning"]["notAfter"] == ndes.ra_sign.not_valid_after_utc.isoformat()
    assert body["raEncryption"]["notAfter"] == ndes.ra_encrypt.not_valid_after_utc.isoformat()
    assert body["raSigning"]["valid"] is True
    ndes.ca.down = True
    body = (await ndes.client.get("/health")).json()
    assert body["ca"]["reachable"] is False
    assert body["status"] == "degraded"
