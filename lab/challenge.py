"""`scep-lab challenge`: a fresh challenge for a device and SCEP profile of the running lab, with
what the request must then contain — for testing any SCEP client or server by hand. It signs in
as the seeded administrator and asks the cloud, as any tool could (`scep-lab info` lists how)."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.table import Table

from shared.api.entra import password_grant, token_path
from shared.pki import CsrSpec, KeySpec, PrivateKey, San, build_csr, generate_key
from shared.trace import PARTY_HEADER

from .commands import DataOption
from .home import LabState, load_state, tls_root_path

DEFAULT_DEVICE = "LAB-LAPTOP-01"
DEFAULT_PROFILE = "Lab device certificate (Windows)"


class LabCallFailed(RuntimeError):
    pass


def _one(client: httpx.Client, path: str, name: str, what: str) -> str:
    quoted = name.replace("'", "''")
    field = "deviceName" if what == "device" else "displayName"
    response = client.get(path, params={"$filter": f"{field} eq '{quoted}'"})
    if response.status_code != 200:
        raise LabCallFailed(f"listing {what}s: HTTP {response.status_code} {response.text[:200]}")
    found = response.json()["value"]
    if len(found) != 1:
        raise LabCallFailed(
            f"no {what} named {name!r}" if not found else f"{what} {name!r} is ambiguous"
        )
    return str(found[0]["id"])


@contextlib.contextmanager
def admin_session(data: Path, state: LabState, party: str = "admin") -> Iterator[httpx.Client]:
    """An HTTPS client of the lab's cloud, signed in as the demo tenant's administrator.
    `party`: who its calls are in the trace (the console's reads: "console", not recorded)."""
    tenant = state.tenant
    if tenant is None or tenant.admin_password is None:
        raise LabCallFailed("this lab.json has no administrator credentials (run `scep-lab up`)")
    verify = ssl.create_default_context(cafile=str(tls_root_path(data)))
    with httpx.Client(
        base_url=state.url("cloud"), verify=verify, timeout=30, headers={PARTY_HEADER: party}
    ) as client:
        token = client.post(
            token_path(tenant.tenant_id),
            data=password_grant(tenant.admin_upn, tenant.admin_password),
        )
        if token.status_code != 200:
            raise LabCallFailed(f"sign-in failed: {token.text[:300]}")
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def find_id(client: httpx.Client, name: str, what: str) -> str:
    """The id of the device (by deviceName) or SCEP profile (by displayName) called `name`."""
    base = "/beta/deviceManagement"
    path = f"{base}/managedDevices" if what == "device" else f"{base}/deviceConfigurations"
    return _one(client, path, name, what)


def fetch_challenge(data: Path, state: LabState, device: str, profile: str) -> dict[str, Any]:
    with admin_session(data, state) as client:
        device_id = find_id(client, device, "device")
        profile_id = find_id(client, profile, "profile")
        answer = client.post(
            "/lab/challenge", json={"deviceId": device_id, "profileId": profile_id}
        )
        if answer.status_code != 200:
            raise LabCallFailed(f"the cloud refused: HTTP {answer.status_code} {answer.text[:300]}")
        result: dict[str, Any] = answer.json()
        return result


def request_spec(
    found: dict[str, Any],
    *,
    subject: str | None = None,
    ekus: tuple[str, ...] | None = None,
    challenge: str | None = None,
) -> CsrSpec:
    """The request a challenge answer (`fetch_challenge`) describes, with the changes given
    (an attack's another subject, more EKUs, an altered challenge)."""
    return CsrSpec(
        subject=x509.Name.from_rfc4514_string(subject or found["subject"]),
        sans=tuple(San(san["type"], san["value"]) for san in found["subjectAlternativeNames"]),
        ekus=ekus if ekus is not None else tuple(found["extendedKeyUsages"]),
        key_usage=frozenset(found["keyUsage"]),
        challenge_password=challenge if challenge is not None else found["challenge"],
    )


def write_scepclient_files(
    folder: Path, key: PrivateKey, csr: x509.CertificateSigningRequest
) -> None:
    """`folder/key.pem` (PKCS#1, mode 0600) and `folder/csr.pem`: micromdm's scepclient sends a
    csr.pem it finds beside its key, so the request is ours and the exchange its own."""
    folder.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    fd = os.open(folder / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    (folder / "csr.pem").write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def write_request(folder: Path, found: dict[str, Any]) -> None:
    """A new key of the profile's size and the CSR the profile asks for, carrying the challenge,
    written for scepclient."""
    key = generate_key(KeySpec.rsa(int(found["keySize"])))
    write_scepclient_files(folder, key, build_csr(key, request_spec(found)))


def challenge(
    data: DataOption,
    device: Annotated[str, typer.Option(help="Device name.")] = DEFAULT_DEVICE,
    profile: Annotated[str, typer.Option(help="SCEP profile display name.")] = DEFAULT_PROFILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    write: Annotated[
        Path | None,
        typer.Option(
            help="Also write DIR/key.pem (PKCS#1) and DIR/csr.pem: the request the profile asks "
            "for, with the challenge. micromdm's scepclient sends a csr.pem it finds beside its "
            "key (it cannot write SANs, EKUs or key usage itself).",
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """A fresh challenge for DEVICE and PROFILE, and what the SCEP request must contain."""
    state = load_state(data)
    if state is None:
        typer.echo(f"no lab in {data}: run `scep-lab up` first", err=True)
        raise typer.Exit(2)
    try:
        found = fetch_challenge(data, state, device, profile)
    except (LabCallFailed, httpx.HTTPError) as exc:
        typer.echo(f"scep-lab challenge: {exc}", err=True)
        raise typer.Exit(1) from exc
    if write is not None:
        write_request(write, found)
        typer.echo(f"wrote {write / 'key.pem'} and {write / 'csr.pem'}", err=True)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    table = Table(title=f"challenge for {device} / {profile}", show_header=False)
    table.add_row("subject (RFC 4514)", found["subject"])
    for san in found["subjectAlternativeNames"]:
        table.add_row(f"SAN {san['type']}", san["value"])
    table.add_row("EKU OIDs", ", ".join(found["extendedKeyUsages"]))
    table.add_row("key usage", ", ".join(found["keyUsage"]))
    table.add_row("key size", str(found["keySize"]))
    table.add_row("SCEP URL", ", ".join(found["scepServerUrls"]))
    table.add_row("CA thumbprint (SHA-1)", found["caThumbprint"])
    table.add_row("expires", found["expiresAt"])
    Console().print(table)
    typer.echo(found["challenge"])
