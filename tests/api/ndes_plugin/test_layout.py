"""NDES's own layering: only the transport and wiring modules know HTTP."""

from __future__ import annotations

from tests.unit.test_layout import imported_packages

TRANSPORT = {"app", "admin", "lab", "transport", "paths", "runtime", "ca_http", "__main__"}
FORBIDDEN = {"fastapi", "starlette", "httpx", "sqlalchemy", "uvicorn"}


def test_domain_modules_import_no_web_framework_http_client_or_database() -> None:
    modules = imported_packages("ndes_plugin")
    domain = {
        path: names for path, names in modules.items() if path.split("/")[-1][:-3] not in TRANSPORT
    }
    assert "ndes_plugin/service.py" in domain and "ndes_plugin/otp.py" in domain
    offenders = {
        path: sorted(names & FORBIDDEN) for path, names in domain.items() if names & FORBIDDEN
    }
    assert offenders == {}
