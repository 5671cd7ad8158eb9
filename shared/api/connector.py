"""Wire models between NDES's Intune policy module and the Certificate Connector's local API
(the connector's counterpart of the legacy CertificateRegistrationSvc VerifyRequest / Notify).
The module authenticates with a client certificate, as the real policy module does."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

VERIFY_PATH = "/policy/verifyRequest"
NOTIFY_PATH = "/policy/notify"


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class VerifyRequest(_Wire):
    """INDESPolicy::VerifyRequest, forwarded: may NDES submit this request?"""

    transaction_id: str = Field(alias="transactionId")
    certificate_request: str = Field(alias="certificateRequest", description="base64 PKCS#10")
    signer_certificate: str | None = Field(
        default=None, alias="signerCertificate", description="base64 DER, renewals only"
    )
    template: str


class VerifyResult(_Wire):
    verified: bool
    code: str = Field(description="Intune's ScepActions code: Success or why not")
    description: str = ""
    hresult: int = Field(default=0, description="what NDES puts in its FAILURE (unsigned)")


class NotifyRequest(_Wire):
    """INDESPolicy::Notify, forwarded: what became of a verified request."""

    transaction_id: str = Field(alias="transactionId")
    certificate_request: str = Field(alias="certificateRequest")
    disposition: int = Field(description="X509SCEPDisposition: 0 success, 2 failure, 3 pending")
    hresult: int = 0
    issued_certificate: str | None = Field(default=None, alias="issuedCertificate")
    ca_configuration: str | None = Field(default=None, alias="caConfiguration")
    certificate_authority: str | None = Field(default=None, alias="certificateAuthority")


class NotifyResult(_Wire):
    queued: bool
