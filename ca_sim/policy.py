"""The CA's policy module: the template's rules applied to an opened request.

Unknown template, missing or untrusted enrolment-agent signature, short key, bad subject →
DENIED ("Denied by Policy Module") with AD CS's HRESULT; manager approval → PENDING; otherwise
ISSUE. Pure: no I/O, time passed in.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from shared.pki import CsrInfo, Eku

from .hresult import Hresult
from .outcome import Admission, Refusal
from .submission import OpenedRequest
from .templates import Template

MAX_NAME_LENGTH = 64  # ub-common-name and friends (RFC 5280 appendix A); AD CS enforces them
_BOUNDED = (
    x509.NameOID.COMMON_NAME,
    x509.NameOID.ORGANIZATION_NAME,
    x509.NameOID.ORGANIZATIONAL_UNIT_NAME,
)


def decide(
    opened: OpenedRequest,
    template: Template | None,
    *,
    template_name: str,
    known_templates: tuple[str, ...],
    token: bool,
    agent_revoked: bool,
    issuing_cert: x509.Certificate,
    now: datetime,
) -> Refusal | Admission:
    """What becomes of a parsed request under `template` (None: no such template)."""
    if opened.refusal is not None:
        return opened.refusal
    if template is None:
        return Refusal.denied(
            Hresult.CERTSRV_E_UNSUPPORTED_CERT_TYPE,
            f"the request was for a certificate template that is not supported by this CA: "
            f"{template_name!r} (templates: {', '.join(known_templates)})",
        )
    if not template.agent_required and not token:
        return Refusal.denied(
            Hresult.CERTSRV_E_TEMPLATE_DENIED,
            f"template {template.name} is for the NDES service account itself: present the "
            "admin token",
        )
    if template.agent_required:
        if opened.agent is None:
            return Refusal.denied(
                Hresult.CERTSRV_E_SIGNATURE_POLICY_REQUIRED,
                f"template {template.name} needs the request countersigned by an enrolment "
                "agent, and it carries no signature",
            )
        refusal = check_agent(opened.agent, issuing_cert, now=now, revoked=agent_revoked)
        if refusal is not None:
            return refusal
    if opened.csr is None:  # pragma: no cover - open_request refuses such requests
        return Refusal.failed(Hresult.ERROR_INVALID_DATA, "no certification request")
    refusal = check_csr(opened.csr, template)
    if refusal is not None:
        return refusal
    return Admission.PENDING if template.manager_approval else Admission.ISSUE


def check_agent(
    agent: x509.Certificate, issuing_cert: x509.Certificate, *, now: datetime, revoked: bool
) -> Refusal | None:
    """Is the countersigning certificate an enrolment agent this CA trusts, now?"""
    who = agent.subject.rfc4514_string()
    try:
        agent.verify_directly_issued_by(issuing_cert)
    except (ValueError, TypeError, InvalidSignature):
        return Refusal.denied(
            Hresult.CERT_E_CHAINING,
            f"the enrolment agent certificate {who} was not issued by this CA "
            f"({issuing_cert.subject.rfc4514_string()})",
        )
    if not agent.not_valid_before_utc <= now <= agent.not_valid_after_utc:
        return Refusal.denied(
            Hresult.CERT_E_EXPIRED,
            f"the enrolment agent certificate {who} is valid from "
            f"{agent.not_valid_before_utc:%Y-%m-%d %H:%M}Z to "
            f"{agent.not_valid_after_utc:%Y-%m-%d %H:%M}Z, not at {now:%Y-%m-%d %H:%M}Z",
        )
    if revoked:
        return Refusal.denied(
            Hresult.CRYPT_E_REVOKED, f"the enrolment agent certificate {who} is revoked"
        )
    try:
        ekus = agent.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        purposes = {oid.dotted_string for oid in ekus}
    except x509.ExtensionNotFound:
        purposes = set()
    if Eku.CERTIFICATE_REQUEST_AGENT.value not in purposes:
        return Refusal.denied(
            Hresult.CERTSRV_E_SIGNATURE_REJECTED,
            f"the signing certificate {who} lacks the Certificate Request Agent EKU "
            f"({Eku.CERTIFICATE_REQUEST_AGENT.value})",
        )
    return None


def check_csr(csr: CsrInfo, template: Template) -> Refusal | None:
    """Key algorithm and size, and subject, against the template."""
    if csr.key_kind not in ("rsa", "ec"):
        return Refusal.denied(
            Hresult.NTE_BAD_ALGID, f"the CA issues for RSA and EC keys, not {csr.key_kind}"
        )
    minimum = template.minimum_key_size(csr.key_kind)
    if csr.key_size < minimum:
        return Refusal.denied(
            Hresult.CERTSRV_E_KEY_LENGTH,
            f"the public key is {csr.key_kind.upper()} {csr.key_size} bits; template "
            f"{template.name} needs at least {minimum}",
        )
    if template.subject_from_request:
        if len(csr.subject) == 0 or any(not str(a.value).strip() for a in csr.subject):
            return Refusal.denied(
                Hresult.CERTSRV_E_BAD_REQUESTSUBJECT,
                f"template {template.name} takes the subject from the request, and the "
                f"request's subject is empty ({csr.subject_text!r})",
            )
        for attribute in csr.subject:
            if attribute.oid in _BOUNDED and len(str(attribute.value)) > MAX_NAME_LENGTH:
                return Refusal.denied(
                    Hresult.CERTSRV_E_BAD_REQUESTSUBJECT,
                    f"the subject's {attribute.rfc4514_attribute_name} is longer than "
                    f"{MAX_NAME_LENGTH} characters",
                )
    unusable = [value for kind, value in csr.sans if kind == "other"]
    if unusable:
        return Refusal.denied(
            Hresult.CERTSRV_E_BAD_REQUESTSUBJECT,
            f"subject alternative names the CA cannot copy: {unusable}",
        )
    return None
