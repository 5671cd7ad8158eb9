"""The connector's settings: `ConnectorSettings`, read from `CONNECTOR_*` variables by
`__main__` (built there and passed in; nothing here reads the environment at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CONNECTOR_VERSION = "6.2405.1.0"
IDENTITY_CERT_FILE = "identity.pem"
IDENTITY_KEY_FILE = "identity.key"


class ConnectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8091, ge=1, le=65535)
    data_dir: Path = Field(
        default=Path("var/connector"), description="connector.db and the identity key pair"
    )
    trace_dir: Path | None = Field(
        default=None,
        description="append a trace event for each message sent or received to "
        "<trace_dir>/connector.jsonl (off when unset)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL of the outbox; default sqlite+aiosqlite in data_dir",
    )
    cloud_url: str = Field(default="https://127.0.0.1:8443", description="the cloud's base URL")
    cloud_ca_path: Path = Field(
        default=Path("var/lab/pki/tls-root.pem"),
        description="the lab's public TLS root, which the cloud's server certificate chains to",
    )
    identity_cert_path: Path | None = Field(
        default=None, description="default <data_dir>/identity.pem (from `connector enroll`)"
    )
    identity_key_path: Path | None = Field(
        default=None, description="default <data_dir>/identity.key"
    )
    connector_version: str = CONNECTOR_VERSION
    heartbeat_seconds: float = Field(default=300.0, gt=0)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    cloud_timeout_seconds: float = Field(default=30.0, gt=0)
    tls_cert_path: Path | None = Field(
        default=None,
        description="the local API's HTTPS certificate (the NDES host's); no TLS if unset",
    )
    tls_key_path: Path | None = None
    policy_module_ca_path: Path | None = Field(
        default=None, description="CA file that issued the NDES policy module's client certificate"
    )
    policy_module_thumbprints: list[str] = Field(
        default_factory=list,
        description="SHA-1 thumbprints (hex) of the NDES policy module client certificates "
        "allowed to call the local API; empty refuses every caller",
    )
    ca_url: str | None = Field(
        default=None,
        description="the enterprise CA's base URL (ca_sim); unset disables the revocation agent",
    )
    ca_admin_token: SecretStr | None = Field(
        default=None, description="bearer token the revocation agent presents to the CA"
    )
    revocation_poll_seconds: float = Field(default=60.0, gt=0)
    lab_api: bool = Field(
        default=False,
        description="serve /lab/crash and /lab/outbox to the policy module: lab only (a crash "
        "ends the process at once, as kill -9)",
    )
    revocation_batch: int = Field(
        default=100, ge=1, le=500, description="maxRequests of each revocation download"
    )
    ca_timeout_seconds: float = Field(default=10.0, gt=0)
    identity_check_seconds: float = Field(
        default=3600.0, gt=0, description="how often the identity certificate's expiry is checked"
    )
    identity_renew_before_days: float = Field(
        default=30.0,
        ge=0,
        description="renew the identity certificate when fewer days are left (or less than a "
        "third of its lifetime, whichever comes first)",
    )

    @model_validator(mode="after")
    def _revocation_needs_a_token(self) -> ConnectorSettings:
        if self.ca_url is not None and (
            self.ca_admin_token is None or not self.ca_admin_token.get_secret_value().strip()
        ):
            raise ValueError("CONNECTOR_CA_URL needs CONNECTOR_CA_ADMIN_TOKEN (the CA's token)")
        return self

    @property
    def caller_info(self) -> str:
        return f"intune-scep-lab connector/{self.connector_version}"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'connector.db'}"

    @property
    def effective_identity_cert_path(self) -> Path:
        return self.identity_cert_path or self.data_dir / IDENTITY_CERT_FILE

    @property
    def effective_identity_key_path(self) -> Path:
        return self.identity_key_path or self.data_dir / IDENTITY_KEY_FILE

    @property
    def allowed_thumbprints(self) -> frozenset[str]:
        """The allow-list normalised: upper-case hex without separators."""
        return frozenset(
            t.replace(":", "").replace(" ", "").upper() for t in self.policy_module_thumbprints
        )
