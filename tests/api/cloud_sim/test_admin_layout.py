"""The management area's house rules: its values and vocabularies (enums, errors, profiles,
records, odata) import no web framework, HTTP client or database; only the routes know FastAPI;
every module stays under 300 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import cloud_sim

PACKAGE = Path(cloud_sim.__file__).parent
AREA = PACKAGE / "management"
PURE = ("enums.py", "errors.py", "profiles.py", "records.py", "odata.py", "graph.py")
TRANSPORT = {"fastapi", "starlette", "httpx", "sqlalchemy", "uvicorn"}
MINE = [
    *sorted(AREA.glob("*.py")),
    PACKAGE / "routes" / "admin.py",
    PACKAGE / "store" / "management.py",
]


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_values_are_free_of_transport_and_storage() -> None:
    offenders = {name: sorted(imports(AREA / name) & TRANSPORT) for name in PURE}
    assert {name: found for name, found in offenders.items() if found} == {}
    assert "sqlalchemy" in imports(AREA / "revocations.py")  # the walker sees imports


def test_only_the_routes_know_the_web_framework() -> None:
    knowing = {path.name for path in MINE if imports(path) & {"fastapi", "starlette"}}
    assert knowing == {"admin.py"}


def test_modules_stay_small() -> None:
    sizes = {path.name: len(path.read_text().splitlines()) for path in MINE}
    assert len(sizes) >= 14
    assert {name: n for name, n in sizes.items() if n > 300} == {}
