"""The house rules of ../shared/DESIGN.md that code can check: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARTIES = ("cloud_sim", "connector", "ndes_plugin", "ca_sim", "device_sim")
PACKAGES = ("shared", *PARTIES, "lab")


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level packages imported by each module of `package` (absolute imports)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_package_exists(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()


@pytest.mark.parametrize("party", PARTIES)
def test_a_party_imports_no_other_party(party: str) -> None:
    others = set(PARTIES) - {party}
    offenders = {m: sorted(n & others) for m, n in imported_packages(party).items() if n & others}
    assert offenders == {}, f"{party} imports another party (or lab): {offenders}"
    lab = {m for m, n in imported_packages(party).items() if "lab" in n}
    assert lab == set(), f"{party} imports lab: {lab}"


def test_shared_imports_no_party() -> None:
    forbidden = set(PARTIES) | {"lab"}
    offenders = {
        m: sorted(n & forbidden) for m, n in imported_packages("shared").items() if n & forbidden
    }
    assert offenders == {}, f"shared imports a party: {offenders}"


def test_domain_code_in_shared_is_free_of_transport_and_storage() -> None:
    # the codec and PKI toolkit are pure: no web framework, HTTP client or database
    forbidden = {"fastapi", "starlette", "httpx", "sqlalchemy", "uvicorn"}
    modules = {**imported_packages("shared/scep"), **imported_packages("shared/pki")}
    offenders = {m: sorted(n & forbidden) for m, n in modules.items() if n & forbidden}
    assert offenders == {}


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    # the rule above would pass vacuously if the walker found nothing: make sure it finds imports
    assert "asn1crypto" in imported_packages("shared/scep")["shared/scep/signed.py"]
