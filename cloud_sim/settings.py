"""The cloud's settings: `CloudSettings`, read from `CLOUD_*` variables by `__main__`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOUD_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    data_dir: Path = Field(default=Path("var/cloud"), description="cloud.db and its own keys")
    trace_dir: Path | None = Field(
        default=None,
        description="append a trace event for each message sent or received to "
        "<trace_dir>/cloud.jsonl (off when unset)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite in data_dir "
        "(PostgreSQL: postgresql+asyncpg://user:password@host/db)",
    )
    pki_dir: Path | None = Field(
        default=None,
        description="the lab PKI folder (Connector CA, MDM device CA, challenge certificates, TLS "
        "server); default <data_dir>/pki, built there by `python -m cloud_sim` if empty",
    )
    public_base_url: str = Field(
        default="https://127.0.0.1:8443", description="where clients reach this cloud"
    )
    tls: bool = Field(default=True, description="serve HTTPS with the lab TLS server certificate")
    token_lifetime_minutes: int = Field(default=60, gt=0)
    challenge_validity_minutes: int = Field(default=60, gt=0)
    challenge_reusable: bool = Field(
        default=False, description="may a challenge be used again after a successful issuance"
    )
    connector_certificate_days: int = Field(default=365, gt=0)
    device_retry_count: int = Field(
        default=3,
        ge=0,
        description="retryCount of each SCEP profile at check-in: how many times a device polls "
        "a pending request (Intune's Android payload: RetryCount 3)",
    )
    device_retry_delay_seconds: int = Field(
        default=60,
        ge=0,
        description="retryDelaySeconds of each SCEP profile at check-in: the wait between polls "
        "(Intune's Android payload: RetryDelay 1 minute); the lab and tests shorten it",
    )
    lab_api: bool = Field(default=True, description="serve /lab/* (challenges on demand)")

    @property
    def effective_pki_dir(self) -> Path:
        return self.pki_dir if self.pki_dir is not None else self.data_dir / "pki"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'cloud.db'}"
