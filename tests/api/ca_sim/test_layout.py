"""The CA's own house rule: its domain (templates, policy, issuance, CRLs, service) imports no
web framework, HTTP client or database library; only app, routes, store and __main__ do."""

from __future__ import annotations

import ast
from pathlib import Path

import ca_sim

PACKAGE = Path(ca_sim.__file__).parent
TRANSPORT = {"fastapi", "starlette", "httpx", "sqlalchemy", "uvicorn", "asgi_lifespan"}
EDGES = {"app.py", "__main__.py", "routes", "store"}


def top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_is_free_of_transport_and_storage() -> None:
    domain = [
        path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] not in EDGES
    ]
    assert len(domain) >= 10  # the walker sees the modules
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(top_level_imports(path) & TRANSPORT)
        for path in domain
        if top_level_imports(path) & TRANSPORT
    }
    assert offenders == {}
    assert "sqlalchemy" in top_level_imports(PACKAGE / "store" / "sql.py")


def test_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > 300} == {}
