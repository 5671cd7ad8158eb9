"""`python -m connector`: the Certificate Connector alone, settings from `CONNECTOR_*` variables.

    python -m connector enroll --admin admin@contoso.onmicrosoft.com   # password from
        CONNECTOR_ADMIN_PASSWORD (never a command-line argument): sign in, get the identity
    python -m connector                                                 # serve the local API

Sign-in needs an Intune administrator (the cloud refuses others, and administrators without an
Intune licence, with 0x80004003); bad credentials, a non-administrator or an unreachable cloud
end with a message and exit status 1, and leave no identity files behind. Serving first checks
that the identity key belongs to the identity certificate: a missing, unreadable or mismatched
file is named and the exit status is 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import httpx
import uvicorn
from pydantic import ValidationError

from shared.clock import OffsetClock
from shared.pki import KeyFileError

from .app import create_app
from .cloud import CloudError
from .identity import check_identity
from .serve import uvicorn_config
from .settings import ConnectorSettings
from .signin import SignInFailed, sign_in


async def _enroll(settings: ConnectorSettings, upn: str, password: str, machine: str) -> str:
    identity = await sign_in(settings, upn, password, machine)
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
        check_identity(settings)
    except KeyFileError as exc:
        print(
            f"connector: {exc}\n(no identity yet? run `python -m connector enroll` first)",
            file=sys.stderr,
        )
        return 2
    app = create_app(settings, clock=OffsetClock() if settings.lab_api else None)
    uvicorn.Server(uvicorn_config(app, settings)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
