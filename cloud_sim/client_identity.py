"""Client identities for the mutual-TLS APIs, shared by connectors and managed devices: issue one
from a CSR (recording it as the holder's current certificate), and check the one presented on
a connection (its CA, its dates by the lab clock, and that it is the current one — or the one
a renewal replaced, until the holder first presents the new one)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from fastapi import HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.pki import LabCert
from shared.tls import client_certificate

from .context import CloudContext
from .identity_ca import (
    CertificateRejected,
    check_client_certificate,
    identity_of,
    issue_client_certificate,
)
from .store.connectors import ClientIdentityRow

Kind = Literal["connector", "device"]
ISSUER: dict[Kind, LabCert] = {
    "connector": LabCert.INTUNE_CONNECTOR_CA,
    "device": LabCert.INTUNE_MDM_DEVICE_CA,
}


@dataclass(frozen=True)
class Holder:
    id: str
    tenant_id: str


async def issue_identity(
    session: AsyncSession,
    context: CloudContext,
    kind: Kind,
    *,
    holder: Holder,
    certificate_request: str,
    validity: dt.timedelta,
) -> x509.Certificate:
    """`CN=<holder id>` for the base64 CSR's key, now the holder's current certificate (the one
    it replaces is accepted until the new one is first used). HTTPException 400 for a CSR that
    is not base64, does not verify, or has a weak key."""
    now = context.clock.now()
    try:
        cert = issue_client_certificate(
            base64.b64decode(certificate_request, validate=True),
            holder.id,
            ca_cert=context.pki.cert(ISSUER[kind]),
            ca_key=context.pki.key(ISSUER[kind]),
            now=now,
            validity=validity,
        )
    except (binascii.Error, ValueError) as exc:
        raise HTTPException(400, f"certificateRequest: {exc}") from exc
    identity = identity_of(cert)
    row = await session.get(ClientIdentityRow, (kind, holder.id))
    if row is None:
        row = ClientIdentityRow(kind=kind, id=holder.id, tenant_id=holder.tenant_id)
        session.add(row)
    elif row.previous_serial_number is None:  # else the holder never used the last one issued:
        row.previous_serial_number = row.serial_number  # the one it holds stays the previous
    row.serial_number, row.thumbprint = identity.serial_number, identity.thumbprint
    row.not_after, row.issued_at = identity.not_after, now
    return cert


async def presented_identity(
    request: Request, session: AsyncSession, context: CloudContext, kind: Kind
) -> Holder:
    """The holder behind this connection's client certificate: 401 without one; 403 if another
    CA issued it, it is out of date, or it is not the holder's current certificate."""
    ca_cert = context.pki.cert(ISSUER[kind])
    ca_name = ca_cert.subject.rfc4514_string().removeprefix("CN=")
    cert = client_certificate(request.scope)
    if cert is None:
        raise HTTPException(401, f"a client certificate from the {ca_name} is required")
    try:
        identity = check_client_certificate(cert, ca_cert=ca_cert, now=context.clock.now())
    except CertificateRejected as exc:
        raise HTTPException(403, str(exc)) from exc
    row = await session.get(ClientIdentityRow, (kind, identity.id))
    if row is None:
        raise HTTPException(403, f"this {kind} never signed in")
    if row.serial_number == identity.serial_number:
        row.previous_serial_number = None  # the holder has the new one: the old one retires
    elif row.previous_serial_number != identity.serial_number:
        raise HTTPException(403, f"this certificate is not the {kind}'s current one")
    return Holder(identity.id, row.tenant_id)
