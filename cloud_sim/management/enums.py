"""The management area's vocabularies: Graph's own enum values, spelled as Graph spells them
(intune-api.md §3.4, §3.6, §4), and the `@odata.type` of each profile kind per platform."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    """The lab's device platforms (a lab field: Graph spreads this over several properties)."""

    WINDOWS = "windows"
    IOS = "ios"
    MACOS = "macos"
    ANDROID = "android"


OPERATING_SYSTEM = {
    Platform.WINDOWS: "Windows",
    Platform.IOS: "iOS",
    Platform.MACOS: "macOS",
    Platform.ANDROID: "Android",
}

# managedDeviceCertificateState.devicePlatform (Graph's devicePlatformType)
DEVICE_PLATFORM_TYPE = {
    Platform.WINDOWS: "windows10AndLater",
    Platform.IOS: "iOS",
    Platform.MACOS: "macOS",
    Platform.ANDROID: "androidWorkProfile",
}


class ManagementState(StrEnum):
    MANAGED = "managed"
    RETIRE_PENDING = "retirePending"
    RETIRE_FAILED = "retireFailed"
    WIPE_PENDING = "wipePending"
    WIPE_FAILED = "wipeFailed"
    UNHEALTHY = "unhealthy"
    DELETE_PENDING = "deletePending"
    RETIRE_ISSUED = "retireIssued"
    WIPE_ISSUED = "wipeIssued"
    WIPE_CANCELED = "wipeCanceled"
    RETIRE_CANCELED = "retireCanceled"
    DISCOVERED = "discovered"


# a device in one of these states is leaving: it gets no profiles, and any certificate still
# reported for it is revoked
LEAVING_STATES = frozenset(
    {
        ManagementState.RETIRE_PENDING,
        ManagementState.RETIRE_ISSUED,
        ManagementState.WIPE_PENDING,
        ManagementState.WIPE_ISSUED,
        ManagementState.DELETE_PENDING,
    }
)


class ConfigurationKind(StrEnum):
    TRUSTED_ROOT = "trustedRootCertificate"
    SCEP = "scepCertificateProfile"


@dataclass(frozen=True)
class ConfigurationType:
    """One `@odata.type` the lab serves: its kind, its platform and, for a SCEP profile, the
    trusted-certificate type its `rootCertificate` must be."""

    odata_type: str
    kind: ConfigurationKind
    platform: Platform
    trusted_peer: str | None = None
    reports_certificates: bool = True  # Android device owner: no report, no revocation (§4)


def _types() -> dict[str, ConfigurationType]:
    graph = "#microsoft.graph."
    trusted = ConfigurationKind.TRUSTED_ROOT
    pairs = [
        ("windows81TrustedRootCertificate", "windows81SCEPCertificateProfile", Platform.WINDOWS),
        ("iosTrustedRootCertificate", "iosScepCertificateProfile", Platform.IOS),
        ("macOSTrustedRootCertificate", "macOSScepCertificateProfile", Platform.MACOS),
        ("androidTrustedRootCertificate", "androidScepCertificateProfile", Platform.ANDROID),
        (
            "androidWorkProfileTrustedRootCertificate",
            "androidWorkProfileScepCertificateProfile",
            Platform.ANDROID,
        ),
        (
            "androidDeviceOwnerTrustedRootCertificate",
            "androidDeviceOwnerScepCertificateProfile",
            Platform.ANDROID,
        ),
    ]
    found: dict[str, ConfigurationType] = {}
    for root, scep, platform in pairs:
        found[graph + root] = ConfigurationType(graph + root, trusted, platform)
        found[graph + scep] = ConfigurationType(
            graph + scep,
            ConfigurationKind.SCEP,
            platform,
            trusted_peer=graph + root,
            reports_certificates="DeviceOwner" not in scep,
        )
    return found


CONFIGURATION_TYPES: dict[str, ConfigurationType] = _types()


class CertificateType(StrEnum):
    USER = "user"
    DEVICE = "device"


class SubjectNameFormat(StrEnum):
    COMMON_NAME = "commonName"
    COMMON_NAME_INCLUDING_EMAIL = "commonNameIncludingEmail"
    COMMON_NAME_AS_EMAIL = "commonNameAsEmail"
    CUSTOM = "custom"
    COMMON_NAME_AS_IMEI = "commonNameAsIMEI"
    COMMON_NAME_AS_SERIAL_NUMBER = "commonNameAsSerialNumber"
    COMMON_NAME_AS_AAD_DEVICE_ID = "commonNameAsAadDeviceId"
    COMMON_NAME_AS_INTUNE_DEVICE_ID = "commonNameAsIntuneDeviceId"
    COMMON_NAME_AS_DURABLE_DEVICE_ID = "commonNameAsDurableDeviceId"


class SubjectAlternativeNameType(StrEnum):
    NONE = "none"
    EMAIL_ADDRESS = "emailAddress"
    USER_PRINCIPAL_NAME = "userPrincipalName"
    CUSTOM_AZURE_AD_ATTRIBUTE = "customAzureADAttribute"
    DOMAIN_NAME_SERVICE = "domainNameService"
    UNIVERSAL_RESOURCE_IDENTIFIER = "universalResourceIdentifier"


class KeyUsage(StrEnum):
    """Graph's keyUsages flags, in Graph's order (keyEncipherment = 1, digitalSignature = 2)."""

    KEY_ENCIPHERMENT = "keyEncipherment"
    DIGITAL_SIGNATURE = "digitalSignature"


class KeySize(StrEnum):
    SIZE_1024 = "size1024"
    SIZE_2048 = "size2048"
    SIZE_4096 = "size4096"

    @property
    def bits(self) -> int:
        return int(self.value.removeprefix("size"))


class HashAlgorithm(StrEnum):
    """Graph's hashAlgorithms flags (sha1 = 1, sha2 = 2)."""

    SHA1 = "sha1"
    SHA2 = "sha2"


class KeyStorageProvider(StrEnum):
    USE_TPM_KSP_OTHERWISE_USE_SOFTWARE_KSP = "useTpmKspOtherwiseUseSoftwareKsp"
    USE_TPM_KSP_OTHERWISE_FAIL = "useTpmKspOtherwiseFail"
    USE_PASSPORT_FOR_WORK_KSP_OTHERWISE_FAIL = "usePassportForWorkKspOtherwiseFail"
    USE_SOFTWARE_KSP = "useSoftwareKsp"


class ValidityPeriodScale(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"


class CertificateStore(StrEnum):
    USER = "user"
    MACHINE = "machine"


class DestinationStore(StrEnum):
    """Where Windows puts a trusted certificate (Graph's certificateDestinationStore)."""

    COMPUTER_CERT_STORE_ROOT = "computerCertStoreRoot"
    COMPUTER_CERT_STORE_INTERMEDIATE = "computerCertStoreIntermediate"
    USER_CERT_STORE_INTERMEDIATE = "userCertStoreIntermediate"


class AssignmentTargetType(StrEnum):
    INCLUDE = "#microsoft.graph.groupAssignmentTarget"
    EXCLUDE = "#microsoft.graph.exclusionGroupAssignmentTarget"


class ConnectorState(StrEnum):
    NONE = "none"
    ACTIVE = "active"
    INACTIVE = "inactive"


class CertificateIssuanceState(StrEnum):
    UNKNOWN = "unknown"
    CHALLENGE_ISSUED = "challengeIssued"
    CHALLENGE_ISSUE_FAILED = "challengeIssueFailed"
    REQUEST_CREATION_FAILED = "requestCreationFailed"
    REQUEST_SUBMIT_FAILED = "requestSubmitFailed"
    CHALLENGE_VALIDATION_SUCCEEDED = "challengeValidationSucceeded"
    CHALLENGE_VALIDATION_FAILED = "challengeValidationFailed"
    ISSUE_FAILED = "issueFailed"
    ISSUE_PENDING = "issuePending"
    ISSUED = "issued"
    RESPONSE_PROCESSING_FAILED = "responseProcessingFailed"
    RESPONSE_PENDING = "responsePending"
    ENROLLMENT_SUCCEEDED = "enrollmentSucceeded"
    ENROLLMENT_NOT_NEEDED = "enrollmentNotNeeded"
    REVOKED = "revoked"
    REMOVED_FROM_COLLECTION = "removedFromCollection"
    RENEW_VERIFIED = "renewVerified"
    INSTALL_FAILED = "installFailed"
    INSTALLED = "installed"
    DELETE_FAILED = "deleteFailed"
    DELETED = "deleted"
    RENEWAL_REQUESTED = "renewalRequested"
    REQUESTED = "requested"


# a certificate state (with a serial number) in one of these says the device may hold the
# certificate: issued to it, installed, renewed over, revoked since, or a deletion that failed
HELD_STATES = frozenset(
    {
        CertificateIssuanceState.ISSUED,
        CertificateIssuanceState.RESPONSE_PENDING,
        CertificateIssuanceState.ENROLLMENT_SUCCEEDED,
        CertificateIssuanceState.INSTALLED,
        CertificateIssuanceState.RENEWAL_REQUESTED,
        CertificateIssuanceState.RENEW_VERIFIED,
        CertificateIssuanceState.REVOKED,
        CertificateIssuanceState.DELETE_FAILED,
    }
)

# what a device reports when it removes a certificate
REMOVAL_STATES = frozenset(
    {CertificateIssuanceState.DELETED, CertificateIssuanceState.DELETE_FAILED}
)


class CertificateRevokeStatus(StrEnum):
    """Graph's certificateRevokeStatus: `pending` = queued by Intune, `issued` = handed to a
    connector, then `revoked` or `failed` as the connector reports."""

    NONE = "none"
    PENDING = "pending"
    ISSUED = "issued"
    FAILED = "failed"
    REVOKED = "revoked"


class ProfileStatus(StrEnum):
    """The console's per-device profile status (device-profile-monitor.md)."""

    SUCCEEDED = "Succeeded"
    ERROR = "Error"
    CONFLICT = "Conflict"
    PENDING = "Pending"
    NOT_APPLICABLE = "Not applicable"

    @property
    def graph_status(self) -> str:
        """The same state as Graph's deviceConfigurationDeviceStatus.status (complianceStatus)."""
        return {
            ProfileStatus.SUCCEEDED: "compliant",
            ProfileStatus.ERROR: "error",
            ProfileStatus.CONFLICT: "conflict",
            ProfileStatus.PENDING: "unknown",
            ProfileStatus.NOT_APPLICABLE: "notApplicable",
        }[self]


class RevocationState(StrEnum):
    PENDING = "pending"
    DOWNLOADED = "downloaded"
    REVOKED = "revoked"
    FAILED = "failed"


class RevocationReason(StrEnum):
    """Why the cloud queued a revocation (§3.6 triggers)."""

    RETIRE = "retire"
    WIPE = "wipe"
    DELETE = "delete"
    UNASSIGNED = "profileUnassigned"
    NO_LONGER_TARGETED = "noLongerTargeted"
    PROFILE_CHANGED = "profileChanged"
    PROFILE_DELETED = "profileDeleted"
    DEVICE_LEAVING = "deviceLeaving"
