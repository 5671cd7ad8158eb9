"""What the trace may say about certificates, requests and SCEP messages: decoded fields, never
a key, a challenge or a token."""

from __future__ import annotations

from typing import Any

from cryptography import x509

from .pki import CsrInfo
from .scep import FailInfo, MessageType, PkiRequest

SCEP_NAMES = {
    MessageType.CERT_REP: "CertRep",
    MessageType.RENEWAL_REQ: "RenewalReq",
    MessageType.PKCS_REQ: "PKCSReq",
    MessageType.CERT_POLL: "CertPoll",
    MessageType.GET_CERT: "GetCert",
    MessageType.GET_CRL: "GetCRL",
}


def fail_info_name(fail_info: FailInfo) -> str:
    """RFC 8894's name: `badAlg`, `badMessageCheck`, `badRequest`, `badTime`, `badCertId`."""
    first, *rest = fail_info.name.lower().split("_")
    return first + "".join(part.capitalize() for part in rest)


def certificate(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:X}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def signer(cert: x509.Certificate) -> dict[str, Any]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:X}",
        "self_signed": cert.subject == cert.issuer,
    }


def csr(info: CsrInfo) -> dict[str, Any]:
    """The CSR as a reviewer sees it; of the challenge only whether there is one."""
    return {
        "subject": info.subject_text,
        "sans": [f"{san.kind}:{san.value}" for san in info.sans],
        "ekus": list(info.ekus),
        "key": f"{info.key_kind.upper()} {info.key_size}",
        "signature_hash": info.signature_hash,
        "challenge_present": info.challenge_password is not None,
    }


def pki_request(request: PkiRequest) -> dict[str, Any]:
    """The CMS layers of an opened pkiMessage."""
    message = request.message
    return {
        "signed_data": {
            "signer": signer(message.signer),
            "digest": message.digest.name.lower(),
            "certificates": len(message.certificates),
        },
        "enveloped_data": {"cipher": request.cipher.name.lower()},
    }
