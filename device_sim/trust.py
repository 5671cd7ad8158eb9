"""The device's trust store (what its trusted-certificate profiles installed) and the chain check
it runs on an issued certificate before installing it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from .scep_client import CERT_E_UNTRUSTEDROOT, DeviceFailure

MAX_DEPTH = 6


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _fail(why: str) -> DeviceFailure:
    return DeviceFailure(why, state="installFailed", hresult=CERT_E_UNTRUSTEDROOT)


def verify_chain(
    leaf: x509.Certificate,
    *,
    intermediates: Iterable[x509.Certificate],
    trusted: Iterable[x509.Certificate],
    now: dt.datetime,
    roots_only: bool = True,
    refuse_sha1: bool = False,
) -> tuple[x509.Certificate, ...]:
    """The path from `leaf` to a trusted certificate, every link's signature and dates checked
    at `now`; raises `DeviceFailure` (installFailed, CERT_E_UNTRUSTEDROOT). With `roots_only`
    (Windows, Apple) the path must end in a trusted self-signed root, an installed intermediate
    only helps build it; without (Android: every installed CA certificate is an anchor) a
    trusted intermediate ends it. `refuse_sha1` (Apple) refuses CA certificates signed with
    SHA-1."""
    anchors = list(trusted)
    pool = [*intermediates, *anchors]
    path = [leaf]
    current = leaf
    for _ in range(MAX_DEPTH):
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            raise _fail(f"{current.subject.rfc4514_string()} is not valid at {now:%Y-%m-%d}")
        if (
            current is not leaf
            and refuse_sha1
            and isinstance(current.signature_hash_algorithm, hashes.SHA1)
        ):
            raise _fail(f"{current.subject.rfc4514_string()} is signed with SHA-1")
        if _self_signed(current):
            if any(current == anchor for anchor in anchors):
                return tuple(path)
            raise _fail(f"the root {current.subject.rfc4514_string()} is not trusted")
        if not roots_only and current is not leaf and any(current == a for a in anchors):
            return tuple(path)  # an installed intermediate is an anchor (Android)
        issuer = _find_issuer(current, pool)
        if issuer is None:
            raise _fail(f"no issuer for {current.subject.rfc4514_string()}")
        path.append(issuer)
        current = issuer
    raise _fail("the chain is too long")


def _find_issuer(
    cert: x509.Certificate, pool: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in pool:
        if candidate.subject != cert.issuer or candidate == cert:
            continue
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return candidate
    return None
