"""Helpers for the CA's API tests: CSRs, enrolment-agent countersignatures, submissions."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from shared.pki import CsrSpec, KeyUsageName, PrivateKey, San, build_csr
from shared.scep.signed import sign
from shared.scep.types import Digest

BASE_URL = "http://ca.test"
TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)  # the lab PKI's notBefore
NOW = T0 + dt.timedelta(days=1)  # where each test's clock starts

DS_KE: frozenset[KeyUsageName] = frozenset({"digital_signature", "key_encipherment"})


def csr_der(
    key: PrivateKey,
    subject: str | x509.Name = "CN=device-1,O=Lab",
    *,
    sans: Sequence[San] = (),
    key_usage: frozenset[KeyUsageName] | None = DS_KE,
) -> bytes:
    name = subject if isinstance(subject, x509.Name) else x509.Name.from_rfc4514_string(subject)
    spec = CsrSpec(name, sans=tuple(sans), key_usage=key_usage)
    return build_csr(key, spec).public_bytes(Encoding.DER)


def countersign(
    csr: bytes,
    signer: x509.Certificate,
    key: PrivateKey,
    *,
    include_certificate: bool = True,
) -> bytes:
    """What NDES sends: a SignedData over the PKCS#10, signed by its enrolment agent."""
    assert isinstance(key, rsa.RSAPrivateKey)
    return sign(
        csr,
        [],
        signer=signer,
        key=key,
        digest=Digest.SHA256,
        certificates=[signer] if include_certificate else [],
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def submit(
    client: httpx.AsyncClient,
    request: bytes,
    template: str = "IntuneDeviceCert",
    *,
    token: str | None = None,
    transaction_id: str | None = None,
) -> httpx.Response:
    body: dict[str, str] = {"request": b64(request), "template": template}
    if transaction_id is not None:
        body["transactionId"] = transaction_id
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return await client.post("/ca/submit", json=body, headers=headers)


def certificate_of(reply: dict[str, object]) -> x509.Certificate:
    encoded = reply["certificate"]
    assert isinstance(encoded, str)
    return x509.load_der_x509_certificate(base64.b64decode(encoded))


async def all_requests(client: httpx.AsyncClient, **params: str) -> list[dict[str, object]]:
    response = await client.get("/ca/requests", params={**params, "limit": "1000"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert isinstance(rows, list)
    return rows
