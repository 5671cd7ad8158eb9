"""NDES's settings: `NdesSettings`, read from `NDES_*` environment variables by `__main__`.

The MSCEP registry values are here under snake-case names: SignatureTemplate →
`signature_template`, PasswordMax → `password_max`, and so on; EnforcePassword is `policy`
("none" = 0, "otp" = 1 with NDES's own one-time passwords, "intune" = Intune's policy module,
which asks the Certificate Connector at `intune_connector_url` and implies
`intune_module_installed`). Lists may be given as JSON or as
comma-separated text (`NDES_CAPS=POSTPKIOperation,Renewal,SHA-256,AES`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.scep import ContentCipher

DEFAULT_CAPS = ("POSTPKIOperation", "Renewal", "SHA-512", "SHA-256", "SHA-1", "DES3", "AES")
DEFAULT_TEMPLATE = "IPSECIntermediateOffline"
HEADER_ALLOWANCE = 16384
"""Bytes of request head beyond the query string: the request line's rest and the headers."""


def _split(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class NdesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NDES_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    https_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="also serve HTTPS here (IIS's https binding; Android devices refuse plain "
        "HTTP) with tls_cert_path and tls_key_path; unset: HTTP only",
    )
    tls_cert_path: Path | None = Field(
        default=None, description="the NDES host's TLS certificate (PEM, its issuing CA after it)"
    )
    tls_key_path: Path | None = Field(default=None, description="its PEM private key")
    log_level: str = "INFO"
    data_dir: Path = Field(
        default=Path(".scep-lab/ndes"),
        description="RA keys (0600) and certificates, and the cached CA chain, as PEM",
    )
    trace_dir: Path | None = Field(
        default=None,
        description="append a trace event for each message sent or received to "
        "<trace_dir>/ndes.jsonl (off when unset)",
    )
    trace_name: str = Field(
        default="ndes", description="this NDES's name in the trace (two NDES servers: two names)"
    )

    ca_url: str = "http://127.0.0.1:8090"
    ca_admin_token: SecretStr = Field(
        default=SecretStr(""), description="the NDES service account's credential at the CA"
    )
    ca_timeout_seconds: float = 10.0
    ca_startup_wait_seconds: float = Field(
        default=15.0, description="how long start-up retries an unreachable CA"
    )
    ra_subject: str = "CN=NDES-MSCEP-RA,O=Lab"
    ra_key_size: int = 2048
    ra_signing_template: str = "EnrollmentAgentOffline"
    ra_encryption_template: str = "CEPEncryption"

    admin_user: SecretStr = SecretStr("ndes-admin")
    admin_password: SecretStr = Field(
        default=SecretStr(""), description="empty: nobody can open /certsrv/mscep_admin/"
    )

    caps: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_CAPS))
    reply_ciphers: Annotated[list[ContentCipher], NoDecode] = Field(
        default_factory=lambda: [
            ContentCipher.AES_128_CBC,
            ContentCipher.AES_256_CBC,
            ContentCipher.DES_EDE3_CBC,
        ],
        description="what a CertRep SUCCESS may be encrypted with; the request's own cipher "
        "if allowed (DES is answered with 3DES), else the first of these",
    )
    next_ca_cert_path: Path | None = Field(
        default=None, description="PEM with the rollover CA certificate(s) for GetNextCACert"
    )

    signature_template: str = DEFAULT_TEMPLATE
    encryption_template: str = DEFAULT_TEMPLATE
    general_purpose_template: str = DEFAULT_TEMPLATE

    policy: Literal["none", "otp", "intune"] = "otp"
    password_max: int = Field(default=5, ge=1)
    password_validity_minutes: int = Field(default=60, ge=1)
    password_length: int = Field(default=8, ge=1, le=64)
    password_consumed_on_failure: bool = Field(
        default=False,
        description="also use up a one-time password when the CA fails or denies the request "
        "(NDES's behaviour is unknown; KB959193 only says it is removed once issued)",
    )
    intune_module_installed: bool = Field(
        default=False, description="a bare GET of mscep.dll answers 403 (healthy Intune module)"
    )
    intune_connector_url: str = Field(
        default="https://127.0.0.1:8091", description="the Certificate Connector's local API"
    )
    intune_client_cert_path: Path | None = Field(
        default=None, description="PEM client certificate the Intune module presents"
    )
    intune_client_key_path: Path | None = Field(default=None, description="its PEM private key")
    intune_connector_ca_path: Path | None = Field(
        default=None, description="PEM root to trust for the connector's HTTPS"
    )
    intune_timeout_seconds: float = Field(default=10.0, gt=0)
    failure_text: bool = Field(
        default=False, description="add failInfoText with the reason to FAILUREs (NDES does not)"
    )
    lab_api: bool = Field(
        default=False,
        description="serve /lab/faults (GetCACaps and the template values changed at run time), "
        "behind the admin page's credentials: lab only",
    )

    max_query: int = Field(default=65534, ge=1, description="longer query strings get 414")
    max_body: int = Field(default=65536, ge=1, description="larger POST bodies get 413")

    @field_validator("caps", "reply_ciphers", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("reply_ciphers")
    @classmethod
    def _no_single_des(cls, value: list[ContentCipher]) -> list[ContentCipher]:
        if not [c for c in value if c is not ContentCipher.DES_CBC]:
            raise ValueError("at least one reply cipher other than single DES is needed")
        return value

    @field_validator("ca_url", "intune_connector_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _intune_implies_module(self) -> NdesSettings:
        if self.policy == "intune":
            self.intune_module_installed = True
        return self

    @model_validator(mode="after")
    def _https_needs_a_certificate(self) -> NdesSettings:
        missing = self.tls_cert_path is None or self.tls_key_path is None
        if self.https_port is not None and missing:
            raise ValueError("NDES_HTTPS_PORT needs NDES_TLS_CERT_PATH and NDES_TLS_KEY_PATH")
        return self

    @property
    def max_request_head(self) -> int:
        """What uvicorn's h11 parser must accept as one request head (its default is 16 KiB) for
        GET PKIOperation URLs up to `max_query`: run uvicorn with `http="h11"` and
        `h11_max_incomplete_event_size=settings.max_request_head`."""
        return self.max_query + HEADER_ALLOWANCE
