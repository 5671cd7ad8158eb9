"""Certificate templates: what the CA puts in a certificate, and what it asks of a request.

The names are AD CS's template *names* (not display names): NDES's MSCEP registry values
(SignatureTemplate, EncryptionTemplate, GeneralPurposeTemplate) hold them, and so does
`SubmitRequest.template`. `DEFAULT_TEMPLATES` is the set the lab's CA publishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from shared.pki import Eku, KeyUsageName
from shared.pki.usage import build_key_usage

_YEAR = timedelta(days=365)
IPSEC_IKE_INTERMEDIATE = "1.3.6.1.5.5.8.2.2"  # "IP security IKE intermediate"


@dataclass(frozen=True)
class Template:
    """One certificate template, as the CA's policy module sees it."""

    name: str
    display_name: str
    validity: timedelta
    key_usage: frozenset[KeyUsageName]
    ekus: tuple[str, ...]
    subject_from_request: bool = True
    """True: "Supply in the request" (every offline-request template). False: the subject is
    built from the requester's name, as AD CS builds it from the directory."""
    min_key_size: int = 2048
    """RSA modulus bits; EC keys need a curve of at least `min_ec_key_size` bits."""
    min_ec_key_size: int = 256
    manager_approval: bool = False
    """True: requests wait as PENDING until an administrator approves or denies them."""
    agent_required: bool = True
    """True: the request must be countersigned by an enrolment agent this CA trusts (NDES on
    behalf of a device). False: the NDES service account enrols for itself (admin token)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_usage", frozenset(self.key_usage))
        object.__setattr__(self, "ekus", tuple(str(oid) for oid in self.ekus))
        build_key_usage(self.key_usage)  # ValueError on unknown names
        if self.validity <= timedelta(0):
            raise ValueError(f"{self.name}: validity must be positive")

    def minimum_key_size(self, key_kind: str) -> int:
        return self.min_ec_key_size if key_kind == "ec" else self.min_key_size


def _ds_ke() -> frozenset[KeyUsageName]:
    return frozenset({"digital_signature", "key_encipherment"})


_CRA = Eku.CERTIFICATE_REQUEST_AGENT.value

DEFAULT_TEMPLATES: tuple[Template, ...] = (
    Template(
        "IPSECIntermediateOffline",
        "IPSec (Offline request)",
        2 * _YEAR,
        _ds_ke(),
        (IPSEC_IKE_INTERMEDIATE,),
        min_key_size=1024,  # a v1 template: AD CS lets the CSP decide, 1024 is the floor here
    ),
    Template(
        "IntuneDeviceCert",
        "Intune Device Certificate",
        _YEAR,
        _ds_ke(),
        (Eku.CLIENT_AUTH.value,),
    ),
    Template(
        "IntuneUserCert",
        "Intune User Certificate",
        _YEAR,
        _ds_ke(),
        (Eku.CLIENT_AUTH.value, Eku.EMAIL_PROTECTION.value),
    ),
    Template(
        "IntuneManagerApproval",
        "Intune Device Certificate (Manager Approval)",
        _YEAR,
        _ds_ke(),
        (Eku.CLIENT_AUTH.value,),
        manager_approval=True,
    ),
    Template(
        "EnrollmentAgentOffline",
        "Exchange Enrollment Agent (Offline request)",
        2 * _YEAR,
        frozenset({"digital_signature"}),
        (_CRA,),
        agent_required=False,
    ),
    Template(
        "CEPEncryption",
        "CEP Encryption",
        2 * _YEAR,
        frozenset({"key_encipherment"}),
        (_CRA,),
        agent_required=False,
    ),
)


def index_templates(templates: Iterable[Template]) -> Mapping[str, Template]:
    """Templates by name. AD CS matches template names case-insensitively; so do we."""
    found: dict[str, Template] = {}
    for template in templates:
        key = template.name.casefold()
        if key in found:
            raise ValueError(f"template {template.name!r} is declared twice")
        found[key] = template
    return MappingProxyType(found)


def find_template(templates: Mapping[str, Template], name: str) -> Template | None:
    return templates.get(name.strip().casefold())
