"""`python -m connector`: the Certificate Connector alone, settings from `CONNECTOR_*` variables.

    python -m connector enroll --admin admin@contoso.onmicrosoft.com   # password from
        CONNECTOR_ADMIN_PASSWORD (never a command-line argument): sign in, get the identity
    python -m connector                                                 # serve the local API

Sign-in needs an Intune administrator (the cloud refuses others, and administrators without an
Intune licence, with 0x80004003); bad credentials, a non-administrator or an unreachable cloud
end with a message and exit status 1, and leave no identity files behind.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys

import httpx
import uvicorn
from pydantic import ValidationError

from shared.pki import KeyFileError, KeySpec, generate_key, load_certificate_file
from shared.tls import TlsScopeH11Protocol, server_context

from .app import create_app
from .cloud import CloudError, enroll
from .settings import ConnectorSettings

PUBLIC_CLIENT_ID = "d1ddf0e4-d672-4dae-b554-9d5bdfd93547"  # Microsoft Intune PowerShell
INTUNE_SCOPE = "https://api.manage.microsoft.com//.default"


class SignInFailed(Exception):
    pass


async def _admin_token(settings: ConnectorSettings, upn: str, password: str) -> str:
    tenant = upn.rpartition("@")[2]
    verify = ssl.create_default_context(cafile=str(settings.cloud_ca_path))
    async with httpx.AsyncClient(base_url=settings.cloud_url, verify=verify, timeout=30) as client:
        response = await client.post(
            f"/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "password",
                "client_id": PUBLIC_CLIENT_ID,
                "scope": INTUNE_SCOPE,
                "username": upn,
                "password": password,
            },
        )
    if response.status_code != 200:
        try:
            reason = str(response.json().get("error_description", response.text))
        except ValueError:
            reason = response.text
        raise SignInFailed(f"sign-in refused: {reason.splitlines()[0][:300]}")
    token: str = response.json()["access_token"]
    return token


async def _enroll(settings: ConnectorSettings, upn: str, password: str, machine: str) -> str:
    token = await _admin_token(settings, upn, password)
    identity = await enroll(
        settings.cloud_url,
        settings.cloud_ca_path,
        token,
        machine,
        generate_key(KeySpec.rsa(2048)),
        data_dir=settings.data_dir,
        connector_version=settings.connector_version,
    )
    return f"signed in: connector {identity.connector_id}, certificate until {identity.not_after}"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m connector")
    sub = parser.add_subparsers(dest="command")
    enrol = sub.add_parser("enroll", help="sign in as an Intune administrator")
    enrol.add_argument("--admin", required=True, help="the administrator's UPN")
    enrol.add_argument("--machine", default=os.uname().nodename, help="this host's name")
    args = parser.parse_args(argv)
    try:
        settings = ConnectorSettings()
    except ValidationError as exc:
        print(f"connector: bad settings (CONNECTOR_*):\n{exc}", file=sys.stderr)
        return 2
    if args.command == "enroll":
        password = os.environ.get("CONNECTOR_ADMIN_PASSWORD")
        if not password:
            print(
                "connector: set CONNECTOR_ADMIN_PASSWORD to the administrator's password",
                file=sys.stderr,
            )
            return 2
        try:
            print(asyncio.run(_enroll(settings, args.admin, password, args.machine)))
        except (SignInFailed, CloudError, httpx.HTTPError, OSError) as exc:
            print(f"connector: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        load_certificate_file(settings.effective_identity_cert_path)
    except KeyFileError as exc:
        print(
            f"connector: no identity ({exc}); run `python -m connector enroll` first",
            file=sys.stderr,
        )
        return 2
    app = create_app(settings)
    if settings.tls_cert_path is None or settings.tls_key_path is None:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
        return 0
    context = server_context(
        settings.tls_cert_path, settings.tls_key_path, client_ca_file=settings.policy_module_ca_path
    )
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            http=TlsScopeH11Protocol,
            ssl_context_factory=lambda _config, _default: context,
        )
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
