"""What a traced message says, in plain language: why it failed (SCEP failInfo, HRESULT, Intune
code, transport), and its decoded payload with nothing secret in it.

`explain(event)` reads an event's `reason` (and its outcome and HTTP status) and says what went
wrong and, where there is one, what a real administrator would look at. The HRESULT names come
from the parties' own tables (`ndes_plugin.hresult`, `ca_sim.hresult`) and the Intune codes from
the cloud's (`cloud_sim.domain.codes`): only the explanations are written here. Sources:
shared/reference/ndes-scep.md §1-3 and intune-api.md §1.3, §2, §5. `payload_lines(summary)`
lays a summary out for `scep-lab trace --verbose`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ca_sim.hresult import Hresult
from cloud_sim.domain.codes import ErrorCode
from ndes_plugin.hresult import HResult
from shared.trace import TraceEvent

FAIL_INFO: dict[str, str] = {
    "badAlg": "the device used a digest or cipher the server does not accept (see GetCACaps)",
    "badMessageCheck": "a signature did not verify, or NDES did not accept the challenge",
    "badRequest": "the request is not permitted or not supported (a policy or CA refusal)",
    "badTime": "a time was out of bounds: the message's signing time or the signer's validity",
    "badCertId": "no certificate or transaction matches the one the request names",
}
_FAIL_INFO_ORDER = list(FAIL_INFO)  # RFC 8894 numbers: badAlg 0 … badCertId 4

HRESULTS: dict[int, str] = {
    HResult.E_INVALIDARG: "the policy module refused the request (see the Intune code)",
    HResult.RPC_S_SERVER_UNAVAILABLE: "NDES could not reach the connector/CA",
    HResult.CERTSRV_E_UNSUPPORTED_CERT_TYPE: (
        "the CA does not offer the template NDES's registry maps this request to"
    ),
    HResult.E_FAIL: "an unspecified failure (a policy module error or an unexpected answer)",
    HResult.ERROR_NOT_FOUND: "the challenge was not accepted: unknown, expired or already used",
    HResult.CERT_E_WRONG_USAGE: "the challenge password was already used",
    HResult.TRUST_E_CERT_SIGNATURE: "a challenge is required but the CSR carries none",
    HResult.NTE_BAD_DATA: (
        "the request is not encrypted to NDES's current CEP Encryption certificate "
        "(an old GetCACert answer?)"
    ),
    HResult.NTE_BAD_SIGNATURE: "a signature (the request's, the CSR's or the agent's) is not valid",
    HResult.NTE_BAD_ALGID: "an algorithm the server does not support",
    HResult.CRYPT_E_NOT_FOUND: "NDES does not know this transaction (CertPoll)",
    HResult.CERTSRV_E_BAD_REQUESTSUBJECT: "the subject name is invalid or too long for the CA",
    HResult.CERT_E_EXPIRED: "a certificate is outside its validity period (renewal or agent)",
    HResult.CERT_E_UNTRUSTEDROOT: "the renewal is signed by a certificate this CA did not issue",
    Hresult.ERROR_INVALID_DATA: "the CA could not parse the request",
    Hresult.CRYPT_E_NO_SIGNER: "the CA found no signer on the request",
    Hresult.CERTSRV_E_TEMPLATE_DENIED: "the template does not let this account enrol",
    Hresult.CERTSRV_E_SIGNATURE_POLICY_REQUIRED: (
        "the template needs an enrolment-agent signature and the request has none"
    ),
    Hresult.CERTSRV_E_SIGNATURE_REJECTED: "NDES's agent certificate lacks the Request Agent EKU",
    Hresult.CERT_E_CHAINING: "NDES's agent certificate does not chain to this CA",
    Hresult.CRYPT_E_REVOKED: "the certificate is revoked",
    Hresult.CERTSRV_E_KEY_LENGTH: "the key is shorter than the template allows",
    Hresult.CERTSRV_E_ADMIN_DENIED_REQUEST: "a certificate manager denied the pending request",
}

_USED = "the challenge was already used: one request per challenge, a new check-in brings another"
INTUNE: dict[str, str] = {
    "SubjectNameMismatch": "the CSR's subject is not the one bound into the challenge; check the "
    "profile's subject name format (escaped commas, unsupported variables)",
    "SubjectNameMissing": "the CSR has no subject but the profile asks for one",
    "SubjectAltNameMismatch": "the CSR's SANs are not the profile's; check the profile's SAN "
    "settings and the user's attributes",
    "SubjectAltNameMissing": "the CSR has no SAN but the profile asks for some",
    "EnhancedKeyUsageMismatch": "the CSR's extended key usages are not the profile's; check the "
    "profile's EKUs",
    "EnhancedKeyUsageMissing": "the CSR has no extended key usage but the profile lists some",
    "KeyUsageMismatch": "the CSR's key usage (signature, encipherment) is not the profile's",
    "KeyLengthMismatch": "the key size is not the profile's; check the profile's key size "
    "(4096 needs Windows' software KSP)",
    "ChallengeExpired": "the challenge outlived its 60 minutes; the device gets a new one at its "
    "next check-in (sync it)",
    "ChallengeInvalidTimestamp": "the challenge says it was issued in the future: check clocks",
    "ChallengePasswordMissing": "the CSR carries no challenge: the client left out its profile's",
    "ChallengeDecryptionError": "the challenge cannot be opened: not made by this tenant's Intune, "
    "or altered on the way",
    "ChallengeDeserializationError": "the challenge opened but its contents are not readable",
    "ChallengeDecodingError": "the challenge is not in Intune's encoding: altered or truncated",
    "SignatureValidationFailed": "the challenge's signature is not Intune's: forged or altered",
    "ScepProfileNoLongerTargetedToTheClient": "the SCEP profile was unassigned from this device "
    "after its challenge was issued; check the profile's assignments",
    "BadCertificateRequestIdInChallenge": _USED,
    "ChallengeAlreadyUsed": _USED,
    "BadDeviceIdInChallenge": "the challenge names a device the tenant does not know (retired or "
    "deleted?)",
    "BadUserIdInChallenge": "the challenge's user is not this device's user",
    "BadTenantIdInChallenge": "the challenge belongs to another tenant than the caller's",
    "SigningCertThumbprintMismatch": "the renewal is not signed by the certificate Intune issued "
    "for this profile (or that one is revoked)",
    "CertificateRequestDecodingFailed": "Intune cannot read the CSR, or its self-signature does "
    "not verify",
}

CONNECTOR: dict[str, str] = {
    "ServiceUnavailable": "the connector could not get a verdict: the cloud is unreachable or "
    "failed (NDES answers 0x800706BA)",
    "ConnectorError": "the cloud refused the connector's call itself (4xx or a malformed "
    "answer): check the connector's sign-in and certificate",
}
_HIDDEN = ("password", "secret", "token", "private")
_PARTIES = {
    "policy-module": "the policy module",
    "connector": "the connector",
    "cloud": "the cloud",
    "ca": "the CA",
    "ndes": "NDES",
    "device": "the device",
}
HTTP: dict[int, str] = {
    400: "the request was malformed",
    401: "the caller did not authenticate (token or client certificate missing)",
    403: "the caller is not allowed (client certificate or permission)",
    404: "no such endpoint or object",
    413: "the request is too large",
    414: "the URL is too long (GET PKIOperation over IIS's limits)",
    500: "the server failed while handling it",
    502: "a gateway in between failed",
    503: "the service is unavailable (down, starting, or a fault injected by the lab)",
    504: "a gateway timed out",
}


def fail_info_name(value: Any) -> str | None:
    """RFC 8894's name for a failInfo given as 2, "2", "BAD_REQUEST" or "badRequest"."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        return _FAIL_INFO_ORDER[number] if 0 <= number < len(_FAIL_INFO_ORDER) else str(value)
    if not isinstance(value, str) or not value:
        return None
    folded = value.replace("_", "").casefold()
    return next((name for name in FAIL_INFO if name.casefold() == folded), value)


def hresult_value(value: Any) -> int | None:
    """An HRESULT as unsigned 32 bits, from an int (signed or not) or "0x…"/decimal text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            return None
    return value & 0xFFFFFFFF if isinstance(value, int) else None


def hresult_name(value: int) -> str | None:
    for table in (HResult, Hresult):
        try:
            return table(value).name
        except ValueError:
            continue
    return None


def describe_hresult(value: int) -> str:
    """`0x80070057 E_INVALIDARG: the policy module refused …` (name and meaning when known)."""
    name = hresult_name(value)
    text = f"0x{value:08X}" + (f" {name}" if name else "")
    meaning = HRESULTS.get(value)
    return f"{text}: {meaning}" if meaning else text


def describe_intune_code(code: str) -> str:
    meaning = INTUNE.get(code)
    if meaning is None:
        known = ErrorCode.from_wire(code)
        meaning = known.description if known.value == code else "a code this lab does not know"
    return f"Intune {code}: {meaning}"


def explain(event: TraceEvent) -> str | None:
    """One plain-language sentence on why `event` failed, or None if it did not."""
    reason = event.reason if isinstance(event.reason, dict) else {}
    detail = str(reason.get("detail") or "").strip()
    code = reason.get("intune_code")
    hresult = hresult_value(reason.get("hresult"))
    fail_info = fail_info_name(reason.get("fail_info"))
    if event.outcome == "ok" and not (code or fail_info or hresult):
        return None
    if code and event.party == "connector":
        return CONNECTOR.get(code, f"the connector passed on Intune's refusal: {code}")
    elif code:
        text = describe_intune_code(str(code))
    elif hresult is not None and (hresult in HRESULTS or not fail_info):
        text = _refusal(event, fail_info) + describe_hresult(hresult)
        if hresult == HResult.E_INVALIDARG and detail and "intune" not in detail.casefold():
            text = _refusal(event, fail_info) + "0x80070057 E_INVALIDARG: the request is invalid"
    elif fail_info:
        meaning = FAIL_INFO.get(fail_info, "not a failInfo RFC 8894 defines")
        text = f"FAILURE {fail_info}: {meaning}"
        text += f" · HRESULT {describe_hresult(hresult)}" if hresult is not None else ""
    elif event.outcome == "unreachable":
        text = f"{_name(event.party)} never reached {_name(event.peer)}: is it up and listening?"
    elif event.status is not None and event.status >= 400:
        who = _name(event.party if event.direction == "received" else event.peer)
        text = f"{who} answered HTTP {event.status}: {HTTP.get(event.status, 'an HTTP error')}"
    else:
        text = f"{event.operation} {event.outcome}"
    if detail and detail.casefold() not in text.casefold():
        text += f" [{_shorten(detail)}]"
    return text


def payload_lines(data: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    """A decoded payload as (depth, key, text) lines, a list of records as "-" lines, and
    nothing secret: no password, token or challenge; a challenge ID only as a fingerprint."""
    return _lay(shown(data), 0)


def shown(data: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded payload as it may be shown: the same nesting, nothing secret (see
    `payload_lines`), HRESULTs in hex and failInfo by name."""
    laid: dict[str, Any] = _shown("", dict(data))
    return laid


def _lay(data: dict[str, Any], depth: int) -> list[tuple[int, str, str]]:
    lines: list[tuple[int, str, str]] = []
    for key, value in data.items():
        if value is None or value in ({}, [], ""):
            continue
        if isinstance(value, dict):
            lines += [(depth, str(key), ""), *_lay(value, depth + 1)]
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            lines += [(depth, str(key), ""), *((depth + 1, "-", _flat(v)) for v in value)]
        else:
            lines.append((depth, str(key), _flat(value)))
    return lines


def _shown(key: str, value: Any) -> Any:
    folded = key.casefold()
    if any(word in folded for word in _HIDDEN) or (folded, type(value)) == ("challenge", str):
        return "(hidden)"
    if folded == "challenge_id" and value:
        return "#" + hashlib.sha256(str(value).encode()).hexdigest()[:8] + " (fingerprint)"
    if folded == "hresult" and (number := hresult_value(value)) is not None:
        return f"0x{number:08X}"
    if folded == "fail_info":
        return fail_info_name(value)
    if isinstance(value, dict):
        return {k: _shown(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown("", v) if isinstance(v, dict) else v for v in value]
    return value


def _flat(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flat(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return ", ".join(_flat(item) for item in value) or "(none)"
    return str(value)


def _refusal(event: TraceEvent, fail_info: str | None) -> str:
    if event.party == "ca":
        template = _summary(event).get("template")
        return "the CA refused" + (f" template {template!r}" if template else "") + ": "
    return f"FAILURE {fail_info} · " if fail_info else "HRESULT "


def _name(party: str) -> str:
    return _PARTIES.get(party, party)


def _summary(event: TraceEvent) -> dict[str, Any]:
    return event.summary if isinstance(event.summary, dict) else {}


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
