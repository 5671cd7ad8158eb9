"""Wire models of Microsoft's published SCEP validation API (Intune-Resource-Access, api-version
2018-02-20 for ScepActions, 5019-05-05 for CertificateAuthorityRequests), with the exact field
names. The lab's connector speaks the same bodies to the cloud over mutual TLS."""

from __future__ import annotations

import re
from enum import IntEnum

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
    signer_certificate: str | None = Field(
        default=None,
        alias="signerCertificate",
        description="lab extension, sent by the lab's connector: base64 DER of the certificate "
        "that signed a renewal (a request without a challenge); Microsoft's published body has "
        "no such field",
    )


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


class RevocationErrorCode(IntEnum):
    """`errorCode` of an uploaded revocation result (intune-api.md §1.4). It arrives as a number,
    a numeric string (Java) or a name (C#, in whichever casing the serializer chose): `parse`
    takes all three; the connector sends the name (`wire_name`)."""

    NONE = 0
    NON_RETRYABLE_SERVICE_EXCEPTION = 4000
    DATA_SERIALIZATION_ERROR = 4001
    PARAMETER_DATA_INVALID_ERROR = 4002
    CRYPTOGRAPHY_ERROR = 4003
    CERTIFICATE_NOT_FOUND_ERROR = 4004
    CONFLICT_ERROR = 4005  # already revoked
    NOT_SUPPORTED_ERROR = 4006
    PAYLOAD_TOO_LARGE_ERROR = 4007
    RETRYABLE_SERVICE_EXCEPTION = 4100
    SERVICE_UNAVAILABLE_EXCEPTION = 4101
    SERVICE_TOO_BUSY_EXCEPTION = 4102
    AUTHENTICATION_EXCEPTION = 4103

    @property
    def retryable(self) -> bool:
        """4100-4103: the connector could not do it now (CA down, busy, credentials); the
        request goes back to the queue for another attempt."""
        return self >= RevocationErrorCode.RETRYABLE_SERVICE_EXCEPTION

    @property
    def wire_name(self) -> str:
        """The C# enum name: `None`, `CertificateNotFoundError`, ..."""
        return "".join(part.capitalize() for part in self.name.split("_"))

    @classmethod
    def parse(cls, value: int | str) -> RevocationErrorCode:
        """From 0, "0", "None", "none", "CertificateNotFoundError", "certificateNotFoundError"...

        ValueError for anything else (a boolean, an unknown number or name).
        """
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"a revocation error code is a number or a name, not {value!r}")
        if isinstance(value, int):
            return cls(value)
        text = value.strip()
        if _NUMBER.fullmatch(text):
            return cls(int(text))
        member = _BY_FOLDED_NAME.get(text.replace("_", "").casefold())
        if member is None:
            raise ValueError(f"unknown revocation error code {value!r}")
        return member


_NUMBER = re.compile(r"[+-]?[0-9]+")
_BY_FOLDED_NAME = {code.name.replace("_", "").casefold(): code for code in RevocationErrorCode}
