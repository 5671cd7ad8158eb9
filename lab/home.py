"""The lab's data folder: one place for every party's state, found again by every command.

<data>/lab.json     seed of the lab PKI, generated credentials, ports (mode 0600)
<data>/pki/         the lab PKI (PEM), built once, reused afterwards
<data>/cloud/       cloud_sim's database and token-signing key
<data>/ca/          ca_sim's database
<data>/ndes/        ndes_plugin's RA keys and certificates
<data>/connector/   the connector's outbox database and its identity key and certificate
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args

LAB_FORMAT = 2
"""The data folder's format. Parties create their tables but do not migrate them: a folder made
by an earlier format is refused by `up` with a message, rather than failing half-way. 2: the
connector (outbox, identity), renewals and reserved challenges in the cloud."""

Policy = Literal["intune", "otp", "none"]
"""NDES's policy module in the lab: Intune's (through the connector), one-time passwords, none."""
POLICIES: tuple[Policy, ...] = get_args(Policy)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "intune-scep-lab"


@dataclass
class Ports:
    cloud: int = 8443
    ca: int = 8090
    ndes: int = 8080
    connector: int = 8091
    ndes_https: int = 8444
    """NDES over HTTPS (the NDES host's certificate): Android devices refuse plain HTTP."""
    ndes_general: int = 8081
    """A second NDES, with the one-time-password policy module (the general SCEP workflow),
    beside the Intune one (`up --policy intune` only)."""
    console: int = 8000
    """The lab console: the web page that draws the trace, the trust map and the Intune side."""


@dataclass
class TenantState:
    """The demo tenant `up` seeded in the cloud: its ids, and the secrets shown only once at its
    creation (None if this lab.json did not see it made)."""

    tenant_id: str
    domain: str
    display_name: str
    admin_upn: str
    operator_upn: str
    app_id: str
    app_name: str
    app_permissions: list[str] = field(default_factory=list)
    admin_password: str | None = None
    operator_password: str | None = None
    app_secret: str | None = None


@dataclass
class LabState:
    """What `scep-lab up` decided once and every later command reads back."""

    format: int = LAB_FORMAT
    seed: str = field(default_factory=lambda: secrets.token_hex(16))
    ca_admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ndes_admin_user: str = "ndes-admin"
    ndes_admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    host: str = "127.0.0.1"
    hosts: dict[str, str] = field(default_factory=dict)
    """A party's host name where it is not `host` (docker compose: the service names), by the
    names of `Ports`."""
    ports: Ports = field(default_factory=Ports)
    policy: Policy = "intune"
    tenant: TenantState | None = None
    other_tenant: TenantState | None = None
    """Another tenant of the same cloud (Fabrikam Lab), for the cross-tenant scenario."""

    def url(self, party: str) -> str:
        scheme = "https" if party in ("cloud", "connector", "ndes_https") else "http"
        host = self.hosts.get(party, self.host)
        return f"{scheme}://{host}:{getattr(self.ports, party)}"

    @property
    def scep_url(self) -> str:
        return f"{self.url('ndes')}/certsrv/mscep/mscep.dll"

    @property
    def scep_https_url(self) -> str:
        """NDES over HTTPS, with a host name its certificate names (ndes.lab.test is not in
        DNS; 127.0.0.1 is in its SANs)."""
        return f"{self.url('ndes_https')}/certsrv/mscep/mscep.dll"


def state_path(data: Path) -> Path:
    return data / "lab.json"


def trace_path(data: Path) -> Path:
    """Where every party of the lab keeps its trace: `<party>.jsonl` each (see shared.trace)."""
    return data / "trace"


def tls_root_path(data: Path) -> Path:
    """The lab's public TLS root (what clients of the cloud trust, as they trust Microsoft's)."""
    return data / "pki" / "tls-root.pem"


def load_state(data: Path) -> LabState | None:
    path = state_path(data)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    ports = Ports(**_known(Ports, raw.pop("ports", None) or {}))
    tenant_raw = raw.pop("tenant", None)
    tenant = TenantState(**_known(TenantState, tenant_raw)) if tenant_raw else None
    other_raw = raw.pop("other_tenant", None)
    other = TenantState(**_known(TenantState, other_raw)) if other_raw else None
    raw.setdefault("format", 1)  # before the format was written down
    if raw.get("policy") not in POLICIES:
        raw.pop("policy", None)
    return LabState(**_known(LabState, raw), ports=ports, tenant=tenant, other_tenant=other)


def _known(cls: type[Any], raw: dict[str, Any]) -> dict[str, Any]:
    """The keys `cls` knows: a lab.json written by another version still loads."""
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in raw.items() if key in names}


def save_state(data: Path, state: LabState) -> None:
    data.mkdir(parents=True, exist_ok=True)
    path = state_path(data)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(state), out, indent=2)
    tmp.replace(path)


def load_or_create_state(data: Path) -> LabState:
    state = load_state(data)
    if state is None:
        state = LabState()
        save_state(data, state)
    return state
