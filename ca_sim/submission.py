"""Opening a submitted request: what NDES sent, and who sent it.

NDES sends a CMS SignedData whose eContent is the device's PKCS#10, countersigned with its
enrolment-agent certificate (AD CS's "on behalf of" request); the NDES service account, enrolling
for its own RA certificates, sends a bare PKCS#10 and presents the admin token. A request that
cannot be parsed is refused FAILED ("Error Parsing Request") and recorded with its requester;
one that names no requester at all raises `Unauthenticated` and is not recorded. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import cms
from cryptography import x509

from shared.pki import CsrError, CsrInfo, inspect_csr
from shared.scep.errors import DecodeError, SignatureError, UnsupportedAlgorithm
from shared.scep.signed import from_asn1_cert, load_signed_data, verify

from .errors import Unauthenticated
from .hresult import Hresult
from .outcome import Refusal

_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


@dataclass(frozen=True)
class OpenedRequest:
    requester: str
    csr_der: bytes  # the PKCS#10 when one was found, else the request as received
    csr: CsrInfo | None
    agent: x509.Certificate | None  # the SignedData's signer, its signature verified
    refusal: Refusal | None = None

    @property
    def subject(self) -> str:
        return "" if self.csr is None else self.csr.subject_text


def open_request(der: bytes, *, caller: str | None) -> OpenedRequest:
    """Parse a submitted request. `caller` is the admin identity when the token was presented.

    Raises `Unauthenticated` when nothing names a requester: no token, and no SignedData whose
    signer certificate the CA can see. Every other problem is a FAILED refusal.
    """
    content_type = _content_type(der)
    if content_type == "signed_data":
        return _open_signed(der, caller)
    if caller is None:
        raise Unauthenticated(
            "a request that is not a SignedData countersigned by an enrolment agent needs the "
            "admin token (Authorization: Bearer ...)"
        )
    if content_type is not None:
        text = f"a CMS {content_type} message, not a SignedData nor a PKCS#10"
        return _failed(caller, der, Hresult.ERROR_INVALID_DATA, text)
    return _open_pkcs10(der, caller, None, raw=der)


def _content_type(der: bytes) -> str | None:
    """The ContentInfo's content type, or None if `der` is not a CMS ContentInfo at all."""
    try:
        info = cms.ContentInfo.load(der, strict=True)
        name = info["content_type"].native
    except _ASN1_ERRORS:
        return None
    return name if isinstance(name, str) else None


def _open_signed(der: bytes, caller: str | None) -> OpenedRequest:
    count, claimed = _signers(der)
    requester = caller or (None if claimed is None else claimed.subject.rfc4514_string())
    if requester is None:
        raise Unauthenticated(
            "the SignedData carries no certificate for its signer, so it names no requester: "
            "include the enrolment agent's certificate in SignedData.certificates"
        )
    if count == 0:
        return _failed(requester, der, Hresult.CRYPT_E_NO_SIGNER, "the SignedData is not signed")
    if count > 1:
        text = f"the SignedData has {count} SignerInfos; the CA takes one enrolment agent"
        return _failed(requester, der, Hresult.ERROR_INVALID_DATA, text)
    if claimed is None:
        text = "the SignedData does not carry its signer's certificate"
        return _failed(requester, der, Hresult.CRYPT_E_NO_SIGNER, text)
    try:
        verified = verify(der)
    except UnsupportedAlgorithm as exc:
        return _failed(requester, der, Hresult.NTE_BAD_ALGID, str(exc))
    except SignatureError as exc:
        text = f"the enrolment agent's signature does not verify ({exc})"
        return _failed(requester, der, Hresult.NTE_BAD_SIGNATURE, text)
    except DecodeError as exc:
        return _failed(requester, der, Hresult.ERROR_INVALID_DATA, f"malformed SignedData: {exc}")
    if verified.content is None or verified.content_type != "data":
        text = "the SignedData carries no PKCS#10"
        return _failed(requester, der, Hresult.ERROR_INVALID_DATA, text)
    return _open_pkcs10(verified.content, requester, verified.signer, raw=der)


def _open_pkcs10(
    csr_der: bytes, requester: str, agent: x509.Certificate | None, *, raw: bytes
) -> OpenedRequest:
    try:
        info = inspect_csr(csr_der)
    except CsrError as exc:
        return _failed(requester, raw, Hresult.ERROR_INVALID_DATA, str(exc))
    if not info.signature_valid:
        refusal = Refusal.failed(
            Hresult.NTE_BAD_SIGNATURE, "the certification request's own signature does not verify"
        )
        return OpenedRequest(requester, csr_der, info, agent, refusal)
    return OpenedRequest(requester, csr_der, info, agent)


def _failed(requester: str, der: bytes, hresult: Hresult, text: str) -> OpenedRequest:
    return OpenedRequest(requester, der, None, None, Refusal.failed(hresult, text))


def _signers(der: bytes) -> tuple[int, x509.Certificate | None]:
    """How many SignerInfos, and the certificate the only one points at (signature unchecked)."""
    try:
        signed = load_signed_data(der)
        infos = list(signed["signer_infos"])
        if len(infos) != 1:
            return len(infos), None
        sid = infos[0]["sid"]
        for choice in signed["certificates"] or []:
            if choice.name != "certificate":
                continue
            cert = choice.chosen
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                serial = ias["serial_number"].native
                if cert.issuer == ias["issuer"] and cert.serial_number == serial:
                    return 1, from_asn1_cert(cert)
            elif cert.key_identifier == sid.chosen.native:
                return 1, from_asn1_cert(cert)
    except (DecodeError, *_ASN1_ERRORS):
        return 1, None  # let verify() say what is wrong
    return 1, None
