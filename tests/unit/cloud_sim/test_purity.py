"""The domain core is pure: no web framework, HTTP client or database (STYLE.md, "Shape")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "cloud_sim" / "domain"
FORBIDDEN = {"fastapi", "starlette", "httpx", "sqlalchemy", "uvicorn", "aiosqlite", "asyncpg"}


def test_no_domain_module_imports_transport_or_storage() -> None:
    offenders: dict[str, list[str]] = {}
    modules = sorted(DOMAIN.rglob("*.py"))
    assert modules, f"no modules under {DOMAIN}"
    for path in modules:
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        if names & FORBIDDEN:
            offenders[path.name] = sorted(names & FORBIDDEN)
    assert offenders == {}


def test_importing_the_domain_loads_none_of_them() -> None:
    code = (
        "import sys, cloud_sim.domain; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(FORBIDDEN)!r})))"
    )
    root = DOMAIN.parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_domain_modules_stay_small() -> None:
    mine = ("codes", "errors", "claims", "challenge", "subject", "validation", "variables")
    for stem in mine:
        lines = (DOMAIN / f"{stem}.py").read_text().count("\n")
        assert lines < 300, f"{stem}.py has {lines} lines"
