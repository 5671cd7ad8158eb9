"""The enterprise CA and NDES as real processes on 127.0.0.1 (`python -m ca_sim`,
`python -m ndes_plugin`), configured only through their environment variables."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.ndes_admin import password_on_page
from lab.procs import free_port, running, wait_http

CA_TOKEN = "e2e-ca-admin-token"
NDES_ADMIN = ("ndes-admin", "e2e-ndes-admin-password")


@dataclass(frozen=True)
class GeneralWorkflowLab:
    folder: Path
    ca_url: str
    ndes_url: str

    @property
    def scep_url(self) -> str:
        return f"{self.ndes_url}/certsrv/mscep/mscep.dll"

    def otp(self) -> str:
        page = httpx.get(f"{self.ndes_url}/certsrv/mscep_admin/", auth=NDES_ADMIN, timeout=10)
        assert page.status_code == 200, page.text
        password = password_on_page(page.content)
        assert password is not None, "no password on the admin page"
        return password

    def ca(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {CA_TOKEN}"}
        return httpx.request(method, f"{self.ca_url}{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]

    def chain_pem(self) -> Path:
        """Issuing CA then root, from the CA's own AIA endpoints, as one PEM file."""
        path = self.folder / "chain.pem"
        pems = []
        for name in ("issuing", "root"):
            der = httpx.get(f"{self.ca_url}/pki/{name}.crt", timeout=10).content
            pems.append(
                x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
            )
        path.write_bytes(b"".join(pems))
        return path


@pytest.fixture(scope="session")
def general_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeneralWorkflowLab]:
    folder = tmp_path_factory.mktemp("general-lab")
    ca_port, ndes_port = free_port(), free_port()
    ca_url, ndes_url = f"http://127.0.0.1:{ca_port}", f"http://127.0.0.1:{ndes_port}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CA_", "NDES_"))}
    ca_env = base | {
        "CA_PORT": str(ca_port),
        "CA_DATA_DIR": str(folder / "ca"),
        "CA_PUBLIC_BASE_URL": ca_url,
        "CA_ADMIN_TOKEN": CA_TOKEN,
    }
    ndes_env = base | {
        "NDES_PORT": str(ndes_port),
        "NDES_DATA_DIR": str(folder / "ndes"),
        "NDES_CA_URL": ca_url,
        "NDES_CA_ADMIN_TOKEN": CA_TOKEN,
        "NDES_ADMIN_USER": NDES_ADMIN[0],
        "NDES_ADMIN_PASSWORD": NDES_ADMIN[1],
        "NDES_POLICY": "otp",
        # MSCEP registry values: a device template for both usages, a user template for
        # signature-only requests, a manager-approval template for encryption-only ones
        "NDES_GENERAL_PURPOSE_TEMPLATE": "IntuneDeviceCert",
        "NDES_SIGNATURE_TEMPLATE": "IntuneUserCert",
        "NDES_ENCRYPTION_TEMPLATE": "IntuneManagerApproval",
    }
    with ExitStack() as stack:
        ca = stack.enter_context(
            running([sys.executable, "-m", "ca_sim"], log=folder / "ca.log", env=ca_env)
        )
        wait_http(f"{ca_url}/health", timeout=90, proc=ca)
        ndes = stack.enter_context(
            running([sys.executable, "-m", "ndes_plugin"], log=folder / "ndes.log", env=ndes_env)
        )
        wait_http(f"{ndes_url}/health", timeout=60, proc=ndes)
        yield GeneralWorkflowLab(folder, ca_url, ndes_url)
