"""Wire models of Microsoft's published SCEP validation API (Intune-Resource-Access, api-version
2018-02-20 for ScepActions, 5019-05-05 for CertificateAuthorityRequests), with the exact field
names. The lab's connector speaks the same bodies to the cloud over mutual TLS."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

SCEP_API_VERSION = "2018-02-20"
REVOCATION_API_VERSION = "5019-05-05"
SCEP_SERVICE = "ScepRequestValidationFEService"
PKI_CONNECTOR_SERVICE = "PkiConnectorFEService"


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class ValidationRequestBody(_Wire):
    transaction_id: str = Field(alias="transactionId")
    certificate_request: str = Field(alias="certificateRequest", description="base64 DER PKCS#10")
    caller_info: str = Field(default="", alias="callerInfo")


class ValidateRequest(_Wire):
    """POST .../ScepActions/validateRequest"""

    request: ValidationRequestBody


class SuccessNotificationBody(_Wire):
    transaction_id: str = Field(alias="transactionId")
    certificate_request: str = Field(alias="certificateRequest")
    certificate_thumbprint: str = Field(alias="certificateThumbprint", description="SHA-1 hex")
    certificate_serial_number: str = Field(alias="certificateSerialNumber")
    certificate_expiration_date_utc: str = Field(alias="certificateExpirationDateUtc")
    issuing_certificate_authority: str = Field(alias="issuingCertificateAuthority")
    caller_info: str = Field(default="", alias="callerInfo")
    ca_configuration: str | None = Field(default=None, alias="caConfiguration")
    certificate_authority: str | None = Field(default=None, alias="certificateAuthority")


class SuccessNotification(_Wire):
    """POST .../ScepActions/successNotification"""

    notification: SuccessNotificationBody


class FailureNotificationBody(_Wire):
    transaction_id: str = Field(alias="transactionId")
    certificate_request: str = Field(alias="certificateRequest")
    h_result: int = Field(alias="hResult")
    error_description: str = Field(default="", alias="errorDescription", max_length=255)
    caller_info: str = Field(default="", alias="callerInfo")


class FailureNotification(_Wire):
    """POST .../ScepActions/failureNotification"""

    notification: FailureNotificationBody


class ScepActionResult(_Wire):
    """The answer to every ScepAction: `code` is `Success` or an error code name."""

    code: str
    error_description: str = Field(default="", alias="errorDescription")
    odata_context: str | None = Field(default=None, alias="@odata.context")


class DownloadParameters(_Wire):
    max_requests: int = Field(alias="maxRequests", ge=1, le=500)
    issuer_name: str | None = Field(default=None, alias="issuerName")


class DownloadRevocationRequests(_Wire):
    """POST .../CertificateAuthorityRequests/downloadRevocationRequests"""

    download_parameters: DownloadParameters = Field(alias="downloadParameters")


class RevocationRequest(_Wire):
    request_context: str = Field(alias="requestContext")
    serial_number: str = Field(alias="serialNumber")
    issuer_name: str | None = Field(default=None, alias="issuerName")
    ca_configuration: str | None = Field(default=None, alias="caConfiguration")


class RevocationRequests(_Wire):
    odata_context: str | None = Field(default=None, alias="@odata.context")
    value: list[RevocationRequest]


class RevocationResult(_Wire):
    """One result. Java clients send `errorCode` as a numeric string, C# as the enum name, and
    C#'s property casing follows a global setting: both casings are accepted."""

    request_context: str = Field(
        validation_alias=AliasChoices("requestContext", "RequestContext"),
        serialization_alias="requestContext",
    )
    succeeded: bool = Field(validation_alias=AliasChoices("succeeded", "Succeeded"))
    error_code: str = Field(
        default="None",
        validation_alias=AliasChoices("errorCode", "ErrorCode"),
        serialization_alias="errorCode",
    )
    error_message: str | None = Field(
        default=None,
        validation_alias=AliasChoices("errorMessage", "ErrorMessage"),
        serialization_alias="errorMessage",
    )

    @field_validator("error_code", mode="before")
    @classmethod
    def _code_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class UploadRevocationResults(_Wire):
    """POST .../CertificateAuthorityRequests/uploadRevocationResults"""

    results: list[RevocationResult] = Field(validation_alias=AliasChoices("results", "Results"))
