"""SCEP's ASN.1 additions to asn1crypto: attribute OIDs and the messageData structures.

asn1crypto keeps its OID-to-spec maps on classes, process-wide. `register()` adds SCEP's entries
to them explicitly, only where a name or OID is still free, and can be called any number of times;
nothing happens at import. The codec calls it on entry.
"""

from __future__ import annotations

import threading

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509

OID_MESSAGE_TYPE = "2.16.840.1.113733.1.9.2"
OID_PKI_STATUS = "2.16.840.1.113733.1.9.3"
OID_FAIL_INFO = "2.16.840.1.113733.1.9.4"
OID_SENDER_NONCE = "2.16.840.1.113733.1.9.5"
OID_RECIPIENT_NONCE = "2.16.840.1.113733.1.9.6"
OID_TRANSACTION_ID = "2.16.840.1.113733.1.9.7"
OID_FAIL_INFO_TEXT = "1.3.6.1.5.5.7.24.1"
OID_SCEP_ERROR_HRESULT = "1.3.6.1.4.1.311.21.33"
"""szOID_ENROLL_SCEP_ERROR: NDES's HRESULT, a signed-decimal PrintableString."""


class SetOfPrintableString(core.SetOf):  # type: ignore[misc]
    _child_spec = core.PrintableString


class SetOfUTF8String(core.SetOf):  # type: ignore[misc]
    _child_spec = core.UTF8String


class IssuerAndSubject(core.Sequence):  # type: ignore[misc]
    """messageData of CertPoll (RFC 8894 §3.3.3)."""

    _fields = [("issuer", asn1_x509.Name), ("subject", asn1_x509.Name)]  # noqa: RUF012


# attribute name -> (OID, value spec)
ATTRIBUTES: dict[str, tuple[str, type[core.Asn1Value]]] = {
    "scep_message_type": (OID_MESSAGE_TYPE, SetOfPrintableString),
    "scep_pki_status": (OID_PKI_STATUS, SetOfPrintableString),
    "scep_fail_info": (OID_FAIL_INFO, SetOfPrintableString),
    "scep_sender_nonce": (OID_SENDER_NONCE, cms.SetOfOctetString),
    "scep_recipient_nonce": (OID_RECIPIENT_NONCE, cms.SetOfOctetString),
    "scep_transaction_id": (OID_TRANSACTION_ID, SetOfPrintableString),
    "scep_fail_info_text": (OID_FAIL_INFO_TEXT, SetOfUTF8String),
    "ms_scep_error": (OID_SCEP_ERROR_HRESULT, SetOfPrintableString),
}

_lock = threading.Lock()
_registered = False


class RegistrationConflict(RuntimeError):
    """Another library already uses one of SCEP's attribute names or OIDs for something else."""


def register() -> None:
    """Teach asn1crypto SCEP's signed attributes. Idempotent; never overwrites an entry."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        type_map = cms.CMSAttributeType._map
        specs = cms.CMSAttribute._oid_specs
        for name, (oid, spec) in ATTRIBUTES.items():
            if type_map.get(oid, name) != name:
                raise RegistrationConflict(f"OID {oid} is already mapped to {type_map[oid]!r}")
            if specs.get(name, spec) is not spec:
                raise RegistrationConflict(f"attribute name {name!r} already has another spec")
            type_map.setdefault(oid, name)
            specs.setdefault(name, spec)
            reverse = cms.CMSAttributeType._reverse_map
            if reverse is not None:
                reverse.setdefault(name, oid)
        _registered = True
