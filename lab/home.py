"""The lab's data folder: one place for every party's state, found again by every command.

<data>/lab.json     seed of the lab PKI, generated credentials, ports (mode 0600)
<data>/pki/         the lab PKI (PEM), built once, reused afterwards
<data>/ca/          ca_sim's database
<data>/ndes/        ndes_plugin's RA keys and certificates
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "intune-scep-lab"


@dataclass
class Ports:
    ca: int = 8090
    ndes: int = 8080


@dataclass
class LabState:
    """What `scep-lab up` decided once and every later command reads back."""

    seed: str = field(default_factory=lambda: secrets.token_hex(16))
    ca_admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ndes_admin_user: str = "ndes-admin"
    ndes_admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    host: str = "127.0.0.1"
    ports: Ports = field(default_factory=Ports)
    policy: str = "otp"

    def url(self, party: str) -> str:
        return f"http://{self.host}:{getattr(self.ports, party)}"

    @property
    def scep_url(self) -> str:
        return f"{self.url('ndes')}/certsrv/mscep/mscep.dll"


def state_path(data: Path) -> Path:
    return data / "lab.json"


def load_state(data: Path) -> LabState | None:
    path = state_path(data)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    ports = Ports(**raw.pop("ports", {}))
    return LabState(**raw, ports=ports)


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
