"""`python -m device_sim`'s settings: `DeviceSettings`, from `DEVICE_*` variables (built in
`__main__`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeviceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVICE_", extra="ignore")

    cloud_url: str = Field(default="https://127.0.0.1:8443", description="the cloud's base URL")
    cloud_ca_path: Path = Field(
        default=Path("var/lab/pki/tls-root.pem"),
        description="the TLS root the cloud's server certificate chains to",
    )
    data_dir: Path = Field(
        default=Path("var/devices"), description="each device's MDM identity (one folder each)"
    )
    trace_dir: Path | None = Field(
        default=None,
        description="append a trace event for each message sent or received to "
        "<trace_dir>/device.jsonl (off when unset)",
    )
    tenant: str = Field(description="the tenant's id or domain (for the token endpoint)")
    upn: str = Field(
        description="who enrols the devices: an Intune administrator (or a device's user)"
    )
    password: SecretStr
    concurrency: int = Field(default=16, ge=1, le=512)
    retry_delay_seconds: float | None = Field(
        default=None, ge=0, description="CertPoll delay instead of the profile's"
    )
    key_pool: bool = Field(default=False, description="generate every key before the clock starts")
