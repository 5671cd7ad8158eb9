"""`python -m cloud_sim`: the fake Intune cloud alone, settings from `CLOUD_*` variables.

If the PKI folder is empty, the lab PKI is built there first (seed `CLOUD_PKI_SEED`, hex; random
when unset). Bad settings or key files stop the process with a message and exit status 2.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import sys

import uvicorn
from pydantic import ValidationError

from shared.clock import OffsetClock, SystemClock
from shared.pki import LabPkiError, build_lab_pki, default_lab_spec

from .app import create_app
from .serve import uvicorn_config
from .settings import CloudSettings

PKI_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = CloudSettings()
    except ValidationError as exc:
        print(f"cloud_sim: bad settings (environment variables CLOUD_*):\n{exc}", file=sys.stderr)
        return 2
    seed = bytes.fromhex(os.environ.get("CLOUD_PKI_SEED") or secrets.token_hex(16))
    try:
        pki = build_lab_pki(default_lab_spec(seed, PKI_NOT_BEFORE), settings.effective_pki_dir)
    except LabPkiError as exc:
        print(f"cloud_sim: {exc}", file=sys.stderr)
        return 2
    # with the lab API, a clock `POST /lab/clock` can move (`scep-lab clock advance`): alone, the
    # cloud moves only its own
    clock = OffsetClock() if settings.lab_api else SystemClock()
    app = create_app(settings, pki=pki, clock=clock)
    uvicorn.Server(uvicorn_config(app, settings, pki)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
