"""NDES's lab controls (`NDES_LAB_API=true`): GetCACaps answers the armed keywords (on every
path and case NDES answers), the MSCEP template values change at run time (a name the CA does
not know: 0x80094800 from the CA), `DELETE /lab/faults` goes back to the settings; the admin
page's credentials are needed, and without the lab API the routes do not exist."""

from __future__ import annotations

from ndes_plugin.hresult import HResult
from shared import scep
from shared.scep import PkiStatus
from tests.api.ndes_plugin.conftest import ADMIN, MSCEP, StartNdes
from tests.api.ndes_plugin.helpers import hresult


async def test_caps_are_answered_as_armed_until_cleared(start_ndes: StartNdes) -> None:
    async with start_ndes(lab_api=True) as ndes:
        armed = await ndes.client.put("/lab/faults/caps", json={}, auth=ADMIN)
        assert armed.status_code == 204
        for path in (MSCEP, "/CertSrv/MSCEP/mscep.dll/pkiclient.exe"):
            caps = await ndes.client.get(f"{path}?operation=getcacaps")
            assert caps.status_code == 200
            assert scep.parse_caps(caps.text) == {
                scep.Capability.POST_PKI_OPERATION,
                scep.Capability.RENEWAL,
                scep.Capability.DES3,
                scep.Capability.AES,
            }
        listed = (await ndes.client.get("/lab/faults", auth=ADMIN)).json()
        assert listed == {"caps": ["POSTPKIOperation", "Renewal", "DES3", "AES"]}
        own = await ndes.client.put("/lab/faults/caps", json={"caps": ["SHA-1"]}, auth=ADMIN)
        assert own.status_code == 204
        assert (await ndes.client.get(f"{MSCEP}?operation=GetCACaps")).text == "SHA-1\r\n"
        bad = await ndes.client.put("/lab/faults/caps", json={"caps": ["a b"]}, auth=ADMIN)
        assert bad.status_code == 400
        assert (await ndes.client.delete("/lab/faults", auth=ADMIN)).status_code == 204
        restored = await ndes.client.get(f"{MSCEP}?operation=GetCACaps")
        assert restored.text == scep.build_caps(ndes.settings.caps)
        assert (await ndes.client.get("/lab/faults", auth=ADMIN)).json() == {}


async def test_a_template_the_ca_does_not_offer_is_refused_by_the_ca(
    start_ndes: StartNdes,
) -> None:
    templates = {
        "signature_template": "SigTemplate",
        "encryption_template": "EncTemplate",
        "general_purpose_template": "GpTemplate",
    }
    async with start_ndes(lab_api=True, **templates) as ndes:
        changed = await ndes.client.put(
            "/lab/faults/templates", json={"generalPurpose": "NoSuchTemplate"}, auth=ADMIN
        )
        assert changed.json() == {
            "signature": "SigTemplate",
            "encryption": "EncTemplate",
            "generalPurpose": "NoSuchTemplate",
        }
        device = ndes.device(1, "wrong-template")
        refused = await ndes.enrol(
            device, device.csr("wrong-template", challenge=await ndes.password())
        )
        assert refused.status is PkiStatus.FAILURE
        assert hresult(refused) == HResult.CERTSRV_E_UNSUPPORTED_CERT_TYPE
        assert ndes.ca.device_submissions[-1].template == "NoSuchTemplate"
        listed = (await ndes.client.get("/lab/faults", auth=ADMIN)).json()
        assert listed["templates"]["generalPurpose"] == "NoSuchTemplate"
        assert (await ndes.client.delete("/lab/faults", auth=ADMIN)).status_code == 204
        again = ndes.device(2, "right-template")
        issued = await ndes.enrol(
            again, again.csr("right-template", challenge=await ndes.password())
        )
        assert issued.status is PkiStatus.SUCCESS
        assert ndes.ca.device_submissions[-1].template == "GpTemplate"


async def test_the_lab_routes_need_the_admin_and_the_lab_api(start_ndes: StartNdes) -> None:
    async with start_ndes(lab_api=True) as ndes:
        assert (await ndes.client.get("/lab/faults")).status_code == 401
        wrong = await ndes.client.delete("/lab/faults", auth=(ADMIN[0], "wrong"))
        assert wrong.status_code == 401
    async with start_ndes() as ndes:
        assert (await ndes.client.get("/lab/faults", auth=ADMIN)).status_code == 404
        assert (await ndes.client.get(f"{MSCEP}?operation=GetCACaps")).status_code == 200
