"""IIS matches URL paths case-insensitively; Starlette does not. This ASGI middleware rewrites
a request for a known path, in any case (and with or without the trailing slash IIS would add),
to the path the routes are declared with. Other paths are left alone."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send


class CaseInsensitivePaths:
    def __init__(self, app: ASGIApp, aliases: Mapping[str, str]) -> None:
        self._app = app
        self._aliases = {alias.casefold(): path for alias, path in aliases.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            canonical = self._aliases.get(path.casefold())
            if canonical is not None and canonical != path:
                scope = {**scope, "path": canonical, "raw_path": canonical.encode("ascii")}
        await self._app(scope, receive, send)


def aliases_for(paths: list[str]) -> dict[str, str]:
    """Each path, and each with its trailing slash added or removed, to itself."""
    table: dict[str, str] = {}
    for path in paths:
        table[path] = path
        table[path.rstrip("/") if path.endswith("/") else path + "/"] = path
    return table
