"""The settings of the two profile kinds, as immutable values that validate as they are built:
`TrustedRootSettings` (a CA certificate for the device's trust store) and `ScepSettings` (every
SCEP field of intune-api.md §4). Their JSON is Graph's own (camelCase, enum values as Graph
spells them, flags comma-joined), which is what the admin API accepts and returns and what the
store keeps. Pure: no web framework, HTTP client or database."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .enums import (
    CertificateStore,
    CertificateType,
    DestinationStore,
    HashAlgorithm,
    KeySize,
    KeyStorageProvider,
    KeyUsage,
    Platform,
    SubjectAlternativeNameType,
    SubjectNameFormat,
    ValidityPeriodScale,
)
from .errors import InvalidRequest

_OID = re.compile(r"^[0-2](\.(0|[1-9]\d*))+$")


def _split_flags(value: object) -> object:
    """Graph writes flags comma-joined ("keyEncipherment,digitalSignature"); a list is fine too."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _join(order: Iterable[KeyUsage] | Iterable[HashAlgorithm]) -> PlainSerializer:
    ranks = list(order)
    return PlainSerializer(
        lambda flags: ",".join(flag.value for flag in ranks if flag in flags), return_type=str
    )


KeyUsageFlags = Annotated[frozenset[KeyUsage], BeforeValidator(_split_flags), _join(KeyUsage)]
HashAlgorithmFlags = Annotated[
    frozenset[HashAlgorithm], BeforeValidator(_split_flags), _join(HashAlgorithm)
]


class GraphValue(BaseModel):
    """A Graph-shaped value: camelCase JSON, unknown properties refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    def graph_json(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class CustomSubjectAlternativeName(GraphValue):
    san_type: SubjectAlternativeNameType
    name: str = Field(min_length=1)


class ExtendedKeyUsage(GraphValue):
    name: str = Field(min_length=1)
    object_identifier: str

    @field_validator("object_identifier")
    @classmethod
    def _dotted(cls, value: str) -> str:
        if not _OID.match(value):
            raise ValueError(f"'{value}' is not a dotted object identifier")
        return value


class TrustedRootSettings(GraphValue):
    """A trusted-certificate profile: the certificate (base64 DER on the wire; a PEM file's
    base64 is accepted and stored as DER), its file name, and on Windows the store it goes to."""

    trusted_root_certificate: str
    cert_file_name: str | None = None
    destination_store: DestinationStore | None = None

    @field_validator("trusted_root_certificate")
    @classmethod
    def _certificate(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("trustedRootCertificate is not base64") from exc
        try:
            if raw.lstrip().startswith(b"-----BEGIN"):
                cert = x509.load_pem_x509_certificate(raw)
            else:
                cert = x509.load_der_x509_certificate(raw)
        except ValueError as exc:
            raise ValueError("trustedRootCertificate is not an X.509 certificate") from exc
        return base64.b64encode(cert.public_bytes(Encoding.DER)).decode()

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(base64.b64decode(self.trusted_root_certificate))

    @property
    def thumbprint(self) -> str:
        """SHA-1, upper-case hex: what the SCEP payload's CAThumbprint carries."""
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()

    def for_platform(self, platform: Platform) -> Self:
        if platform is not Platform.WINDOWS:
            if self.destination_store is not None:
                raise InvalidRequest("destinationStore applies to Windows profiles only")
            return self
        store = self.destination_store or DestinationStore.COMPUTER_CERT_STORE_ROOT
        return self.model_copy(update={"destination_store": store})


class ScepSettings(GraphValue):
    """A SCEP certificate profile (§4). Defaults are the portal's; `rootCertificate` is the id of
    the trusted-certificate profile that holds the issuing chain's root (checked by the service).
    Format strings are kept as written, variables included: as in Intune, a variable the device
    or the certificate type cannot supply (or a misspelt one) fails the profile on the device
    when it is deployed (cloud_sim.domain.variables), which is a failure the lab must be able
    to show."""

    certificate_type: CertificateType
    subject_name_format: SubjectNameFormat
    subject_name_format_string: str | None = None
    subject_alternative_name_type: SubjectAlternativeNameType = SubjectAlternativeNameType.NONE
    subject_alternative_name_format_string: str | None = None
    custom_subject_alternative_names: tuple[CustomSubjectAlternativeName, ...] = ()
    extended_key_usages: tuple[ExtendedKeyUsage, ...] = Field(min_length=1)
    key_usage: KeyUsageFlags = Field(min_length=1)
    key_size: KeySize = KeySize.SIZE_2048
    hash_algorithm: HashAlgorithmFlags = frozenset({HashAlgorithm.SHA2})
    certificate_validity_period_value: int = Field(default=1, ge=1, le=1000)
    certificate_validity_period_scale: ValidityPeriodScale = ValidityPeriodScale.YEARS
    renewal_threshold_percentage: int = Field(default=20, ge=1, le=99)
    key_storage_provider: KeyStorageProvider | None = None
    certificate_store: CertificateStore | None = None
    scep_server_urls: tuple[str, ...] = Field(min_length=1)
    root_certificate: str = Field(min_length=1)

    @field_validator("scep_server_urls")
    @classmethod
    def _urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if not re.match(r"^https?://[^/\s]+(/\S*)?$", url, re.IGNORECASE):
                raise ValueError(f"'{url}' is not an http or https URL")
        return urls

    @field_validator("hash_algorithm")
    @classmethod
    def _some_hash(cls, flags: frozenset[HashAlgorithm]) -> frozenset[HashAlgorithm]:
        if not flags:
            raise ValueError("at least one hash algorithm is needed")
        return flags

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.subject_name_format is SubjectNameFormat.CUSTOM and not (
            self.subject_name_format_string and "=" in self.subject_name_format_string
        ):
            raise ValueError(
                "subjectNameFormat custom needs a subjectNameFormatString such as "
                "'CN={{DeviceName}}'"
            )
        if (
            self.subject_alternative_name_type
            is SubjectAlternativeNameType.CUSTOM_AZURE_AD_ATTRIBUTE
            and not self.subject_alternative_name_format_string
        ):
            raise ValueError("customAzureADAttribute needs a subjectAlternativeNameFormatString")
        oids = [eku.object_identifier for eku in self.extended_key_usages]
        if len(set(oids)) != len(oids):
            raise ValueError("extendedKeyUsages lists an object identifier twice")
        return self

    def for_platform(self, platform: Platform) -> Self:
        """Windows-only settings refused elsewhere; on Windows, the portal's defaults filled in
        (TPM KSP falling back to software; the machine store for a device certificate)."""
        if platform is not Platform.WINDOWS:
            for field, value in (
                ("keyStorageProvider", self.key_storage_provider),
                ("certificateStore", self.certificate_store),
            ):
                if value is not None:
                    raise InvalidRequest(f"{field} applies to Windows profiles only")
            return self
        ksp = self.key_storage_provider or KeyStorageProvider.USE_TPM_KSP_OTHERWISE_USE_SOFTWARE_KSP
        if self.key_size is KeySize.SIZE_4096 and ksp in (
            KeyStorageProvider.USE_TPM_KSP_OTHERWISE_FAIL,
            KeyStorageProvider.USE_PASSPORT_FOR_WORK_KSP_OTHERWISE_FAIL,
        ):
            raise InvalidRequest("size4096 keys need the software KSP on Windows")
        store = self.certificate_store or (
            CertificateStore.MACHINE
            if self.certificate_type is CertificateType.DEVICE
            else CertificateStore.USER
        )
        return self.model_copy(update={"key_storage_provider": ksp, "certificate_store": store})


def describe_errors(errors: Sequence[Mapping[str, object]], type_name: str) -> str:
    """One line from pydantic's (or FastAPI's) error list, in Graph's voice."""
    parts: list[str] = []
    locs = [_as_tuple(error.get("loc")) for error in errors]
    # an item's error explains its container's ("at least 1 item" once the bad one is dropped)
    specific = [
        error
        for error, loc in zip(errors, locs, strict=True)
        if not any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)
    ]
    for error in specific[:3]:
        loc = [str(p) for p in _as_tuple(error.get("loc")) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        if error.get("type") == "extra_forbidden":
            parts.append(f"Property '{where}' does not exist on type '{type_name}'")
        else:
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def _as_tuple(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else ()
