"""Start-up: the RA certificates obtained from the CA, kept in data_dir, renewed when stale."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509

from ndes_plugin.errors import RaUnavailable
from tests.api.ndes_plugin.conftest import MSCEP, StartNdes
from tests.api.ndes_plugin.fakeca import FakeCa


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


async def test_ra_certificates_obtained_from_the_ca(
    start_ndes: StartNdes, fake_ca: FakeCa, tmp_path: Path
) -> None:
    async with start_ndes(seed=False) as ndes:
        sign, encrypt = ndes.ca_certs[:2]
    assert [(s.template, s.agent) for s in fake_ca.submissions] == [
        ("EnrollmentAgentOffline", None),
        ("CEPEncryption", None),
    ]
    folder = tmp_path / "ndes"
    assert _files(folder) == {
        "ra-sign.key.pem",
        "ra-sign.crt.pem",
        "ra-encrypt.key.pem",
        "ra-encrypt.crt.pem",
        "ca-issuing.crt.pem",
        "ca-root.crt.pem",
    }
    for key in ("ra-sign.key.pem", "ra-encrypt.key.pem"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
    assert x509.load_pem_x509_certificate((folder / "ra-sign.crt.pem").read_bytes()) == sign
    assert sign.public_key() != encrypt.public_key()
    assert sign.subject.rfc4514_string() == "CN=NDES-MSCEP-RA,O=Lab"

    async with start_ndes() as again:  # a restart reuses them
        assert again.ca_certs[:2] == [sign, encrypt]
    assert len(fake_ca.submissions) == 2


async def test_out_of_date_ra_certificates_are_renewed_at_start(
    start_ndes: StartNdes, fake_ca: FakeCa
) -> None:
    async with start_ndes() as ndes:
        before = ndes.ca_certs[:2]
    fake_ca.clock.advance(dt.timedelta(days=731))
    async with start_ndes() as ndes:
        after = ndes.ca_certs[:2]
        assert (await ndes.client.get(f"{MSCEP}?operation=GetCACaps")).status_code == 200
    assert after[0] != before[0] and after[1] != before[1]
    assert after[0].public_key() != before[0].public_key()
    assert [s.template for s in fake_ca.submissions] == ["EnrollmentAgentOffline", "CEPEncryption"]


async def test_start_fails_clearly_when_the_ca_refuses_the_ra_requests(
    start_ndes: StartNdes,
) -> None:
    with pytest.raises(RaUnavailable, match="RA certificates"):
        async with start_ndes(seed=False, ca_admin_token="wrong-token"):
            pass


async def test_start_fails_clearly_without_ca_and_without_saved_chain(
    start_ndes: StartNdes, fake_ca: FakeCa
) -> None:
    fake_ca.down = True
    with pytest.raises(RaUnavailable, match="cannot get the CA certificates"):
        async with start_ndes(seed=False):
            pass


async def test_start_without_ca_uses_what_was_saved(start_ndes: StartNdes, fake_ca: FakeCa) -> None:
    async with start_ndes() as ndes:
        saved = ndes.ca_certs
    fake_ca.down = True
    async with start_ndes() as ndes:
        assert ndes.ca_certs == saved
        assert (await ndes.client.get("/health")).json()["ca"]["reachable"] is False


async def test_a_corrupt_key_file_stops_the_start_with_its_name(
    start_ndes: StartNdes, tmp_path: Path
) -> None:
    async with start_ndes():
        pass
    (tmp_path / "ndes" / "ra-encrypt.key.pem").write_text("not a key")
    with pytest.raises(RaUnavailable, match=r"ra-encrypt\.key\.pem"):
        async with start_ndes():
            pass
