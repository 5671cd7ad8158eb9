"""The HRESULTs the CA answers with, each with where its value and its use come from.

Values are winerror.h's (Windows SDK), unsigned. Which code AD CS returns for which refusal comes
from Microsoft's open specifications where they say so:

- MS-WCCE = [MS-WCCE] Windows Client Certificate Enrollment Protocol: §3.2.1.4.2.1.4.1.3 (CMS and
  CMC requests: ERROR_INVALID_DATA, CRYPT_E_NO_SIGNER), §3.2.1.4.2.1.3 (status inspection:
  CERTSRV_E_ADMIN_DENIED_REQUEST), §3.2.2.6.2.1.4.5.1 msPKI-RA-Signature
  (CERTSRV_E_SIGNATURE_POLICY_REQUIRED when the request carries no signature), and the
  msPKI-RA-Application-Policies rule (CERTSRV_E_SIGNATURE_REJECTED when no signer's certificate
  has the required EKU).
- NDES-REF = shared/reference/ndes-scep.md §2-3 (CERTSRV_E_UNSUPPORTED_CERT_TYPE seen by
  Intune devices; CERTSRV_E_BAD_REQUESTSUBJECT).
- CHAIN = CertVerifyCertificateChainPolicy's mapping of chain trust errors (CERT_E_CHAINING for a
  partial chain, CERT_E_EXPIRED, CRYPT_E_REVOKED for CERT_TRUST_IS_REVOKED).
- LAB = our choice where no source says what AD CS returns; the reason is given.
"""

from __future__ import annotations

from enum import IntEnum


class Hresult(IntEnum):
    S_OK = 0x00000000

    # -- the request could not be parsed: disposition FAILED (30), "Error Parsing Request" --
    ERROR_INVALID_DATA = 0x8007000D
    """"The data is invalid." Not a PKCS#10, nor a SignedData carrying one. MS-WCCE gives it for
    a CMC request that does not carry exactly one PKCS#10; the lab uses it for every request
    that carries none."""
    CRYPT_E_NO_SIGNER = 0x8009200E
    """"Cannot find the original signer." A SignedData without a SignerInfo (MS-WCCE)."""
    NTE_BAD_SIGNATURE = 0x80090006
    """"Invalid Signature." The PKCS#10's own signature, or the agent's CMS signature, does not
    verify. LAB: the brief suggested 0x80094004, but that value is CERTSRV_E_PROPERTY_EMPTY in
    winerror.h. NTE_BAD_SIGNATURE is what Windows' CryptoAPI returns for a signature that does
    not verify."""
    NTE_BAD_ALGID = 0x80090008
    """"Invalid algorithm specified." A digest, signature or key algorithm the CA does not do."""

    # -- the policy module refused: disposition DENIED (31), "Denied by Policy Module" --
    CERTSRV_E_UNSUPPORTED_CERT_TYPE = 0x80094800
    """The requested certificate template is not supported by this CA (NDES-REF, TS-800)."""
    CERTSRV_E_TEMPLATE_DENIED = 0x80094012
    """The permissions on the certificate template do not allow the current user to enroll.
    LAB: a template without `agent_required` is for the NDES service account (admin token) only."""
    CERTSRV_E_SIGNATURE_POLICY_REQUIRED = 0x80094809
    """The template needs an enrolment-agent signature and the request has none (MS-WCCE)."""
    CERTSRV_E_SIGNATURE_REJECTED = 0x8009480B
    """The signer's certificate lacks the Certificate Request Agent EKU (MS-WCCE)."""
    CERT_E_CHAINING = 0x800B010A
    """The agent's certificate does not chain to this issuing CA (CHAIN). winerror.h's value;
    one MS-WCCE table prints 0x800B010B, which winerror.h calls TRUST_E_FAIL."""
    CERT_E_EXPIRED = 0x800B0101
    """The agent's certificate is outside its validity period, by the CA's clock (CHAIN)."""
    CRYPT_E_REVOKED = 0x80092010
    """"The certificate is revoked." The agent's certificate (CHAIN); also the answer to revoking
    a certificate twice (LAB: the brief's choice; MS-CSRA does not name one)."""
    CERTSRV_E_KEY_LENGTH = 0x80094811
    """The public key does not meet the minimum size required by the template."""
    CERTSRV_E_BAD_REQUESTSUBJECT = 0x80094001
    """The request subject name is invalid or too long (NDES-REF)."""

    # -- administration --
    CERTSRV_E_ADMIN_DENIED_REQUEST = 0x80094014
    """The pending request has been denied by a certificate manager (MS-WCCE)."""
    CERTSRV_E_BAD_REQUESTSTATUS = 0x80094003
    """The request's current status does not allow this operation (approve or deny a request
    that is not pending; release from hold a certificate that is not on hold)."""
    ERROR_FILE_NOT_FOUND = 0x80070002
    """HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND): no certificate with that serial number.
    LAB: the brief's choice, and what certutil -revoke is reported to print for an unknown
    serial; MS-WCCE's status inspection uses CERTSRV_E_PROPERTY_EMPTY for a failed serial lookup."""

    @property
    def hex(self) -> str:
        return f"0x{self.value:08X}"
