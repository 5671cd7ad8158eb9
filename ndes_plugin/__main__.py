"""`python -m ndes_plugin`: NDES alone, settings from `NDES_*` environment variables."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .settings import NdesSettings


def main() -> None:
    settings = NdesSettings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        http="h11",
        h11_max_incomplete_event_size=settings.max_request_head,
    )


if __name__ == "__main__":
    main()
