"""The HRESULTs NDES puts into a CertRep FAILURE (attribute 1.3.6.1.4.1.311.21.33).

Windows' names; the comment says when NDES (or this emulator) uses each. Observed meanings are
from ndes-scep.md §2 ("Observed CertRep FAILURE wire format").
"""

from __future__ import annotations

from enum import IntEnum

from shared import scep


class HResult(IntEnum):
    S_OK = 0
    E_FAIL = 0x80004005
    """Anything else: a policy module error, a CA answer outside the contract."""
    E_INVALIDARG = 0x80070057
    """Observed on GetCRL (not supported); also undecodable messageData or CSR."""
    ERROR_NOT_FOUND = 0x80070490
    """Observed: challenge password unknown (never issued, expired, or already used)."""
    RPC_S_SERVER_UNAVAILABLE = 0x800706BA
    """Observed: the CA cannot be reached."""
    NTE_BAD_DATA = 0x80090005
    """Observed (Event 18): the request is not encrypted to our RA encryption certificate."""
    NTE_BAD_SIGNATURE = 0x80090006
    """The request's (or the CSR's) signature does not verify."""
    NTE_BAD_ALGID = 0x80090008
    """A digest, cipher or key transport we do not do."""
    CRYPT_E_NOT_FOUND = 0x80092004
    """CertPoll for a transaction NDES does not know."""
    CERTSRV_E_BAD_REQUESTSUBJECT = 0x80094001
    CERTSRV_E_UNSUPPORTED_CERT_TYPE = 0x80094800
    """The CA does not know the template (wrong MSCEP registry value): Event 31."""
    TRUST_E_CERT_SIGNATURE = 0x80096004
    """Observed: a challenge password is required but the CSR carries none."""
    CERT_E_EXPIRED = 0x800B0101
    """A renewal signed by a certificate outside its validity period."""
    CERT_E_UNTRUSTEDROOT = 0x800B0109
    """A RenewalReq signed by a certificate this CA did not issue."""
    CERT_E_WRONG_USAGE = 0x800B0110
    """Observed: challenge password already used."""


def codec_hresult(exc: scep.ScepError) -> HResult:
    """The HRESULT for a request the codec could not open (its failInfo comes with it)."""
    if isinstance(exc, scep.DecryptError):
        return HResult.NTE_BAD_DATA
    if isinstance(exc, scep.SignatureError):
        return HResult.NTE_BAD_SIGNATURE
    if isinstance(exc, scep.UnsupportedAlgorithm):
        return HResult.NTE_BAD_ALGID
    return HResult.E_INVALIDARG
