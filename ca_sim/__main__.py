"""`python -m ca_sim`: run the CA alone, with settings from the environment (`CA_*`).

If the PKI folder holds none of the CA's files, the lab PKI (`default_lab_spec`) is built there
first. Bad settings or key files stop the process with a message and exit status 2.
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from shared.clock import OffsetClock, SystemClock
from shared.tls import KEEP_ALIVE_SECONDS

from .app import create_app
from .authority import build_default_pki, ca_files
from .errors import CaConfigError
from .settings import CaSettings

logger = logging.getLogger("ca_sim")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = CaSettings()  # type: ignore[call-arg]  # admin_token comes from CA_ADMIN_TOKEN
    except ValidationError as exc:
        print(f"ca_sim: bad settings (environment variables CA_*):\n{exc}", file=sys.stderr)
        return 2
    pki_dir = settings.effective_pki_dir
    try:
        if not any(path.exists() for path in ca_files(pki_dir)):
            logger.info("no CA files in %s: building the lab PKI there", pki_dir)
            build_default_pki(pki_dir, settings.public_base_url, SystemClock().now())
        # with the lab API, a clock `scep-lab clock advance` can move (PUT /lab/clock)
        app = create_app(settings, clock=OffsetClock() if settings.lab_api else None)
    except CaConfigError as exc:
        print(f"ca_sim: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
