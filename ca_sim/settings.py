"""The CA's settings, from the environment (prefix `CA_`) or given by the lab."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    data_dir: Path = Field(default=Path("var/ca"), description="where ca.db lives by default")
    trace_dir: Path | None = Field(
        default=None,
        description="append a trace event for each message sent or received to "
        "<trace_dir>/ca.jsonl (off when unset)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite:///<data_dir>/ca.db "
        "(PostgreSQL: postgresql+asyncpg://user:password@host/db)",
    )
    pki_dir: Path | None = Field(
        default=None,
        description="the lab PKI folder (root-ca.pem, issuing-ca.pem and their .key.pem); "
        "default <data_dir>/pki. `python -m ca_sim` builds the lab PKI there if it is empty",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8090",
        description="where clients reach this CA: issued certificates' AIA and CDP point here",
    )
    admin_token: SecretStr = Field(
        description="bearer token of the CA's administrators, the connector's revocation agent "
        "and the NDES service account (which enrols its own RA certificates with it)"
    )
    admin_name: str = Field(
        default="LAB\\NDESService",
        description="the requester recorded for requests submitted with the admin token",
    )
    crl_validity_hours: int = Field(default=168, gt=0, description="issuing CA CRL validity")
    root_crl_validity_hours: int = Field(default=24 * 182, gt=0, description="root CA CRL")
    lab_api: bool = Field(
        default=False,
        description="serve /lab/faults (the CA refusing or down), behind the admin token: lab only",
    )

    @field_validator("admin_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the admin token must not be empty")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"public_base_url must be an http(s) URL, not {value!r}")
        return value.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'ca.db'}"

    @property
    def effective_pki_dir(self) -> Path:
        return self.pki_dir if self.pki_dir is not None else self.data_dir / "pki"

    @property
    def crl_validity(self) -> timedelta:
        return timedelta(hours=self.crl_validity_hours)

    @property
    def root_crl_validity(self) -> timedelta:
        return timedelta(hours=self.root_crl_validity_hours)
