"""Public downloads (AIA and CDP): the CA certificates and CRLs in DER, and `/health`.

Issued certificates point at `/pki/issuing.crt` and `/pki/issuing.crl`; the lab PKI build
(`default_lab_spec(ca_base_url=...)`) points its certificates at `/pki/<issuer label>.crt` and
`.crl` (`issuing-ca`, `root-ca`): both names are served.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from ..authority import der
from ..publisher import CaName
from .ca import Service

router = APIRouter(tags=["pki"])

_NAMES = {"issuing": CaName.ISSUING, "issuing-ca": CaName.ISSUING}
_NAMES |= {"root": CaName.ROOT, "root-ca": CaName.ROOT}


def _ca(name: str) -> CaName:
    ca = _NAMES.get(name)
    if ca is None:
        known = ", ".join(sorted(_NAMES))
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no CA {name!r}; CAs: {known}")
    return ca


@router.get("/pki/{name}.crt", response_class=Response)
async def ca_certificate(name: str, service: Service) -> Response:
    authority = service.authority
    cert = authority.issuing_cert if _ca(name) is CaName.ISSUING else authority.root_cert
    return Response(der(cert), media_type="application/pkix-cert")


@router.get("/pki/{name}.crl", response_class=Response)
async def crl(name: str, service: Service) -> Response:
    current = await service.crls.current(_ca(name))
    return Response(current.der, media_type="application/pkix-crl")


@router.get("/health")
async def health(request: Request, service: Service) -> dict[str, object]:
    return {
        "status": "ok",
        "party": "ca_sim",
        "ca": service.authority.issuing_cert.subject.rfc4514_string(),
        "database": await service.store.ping(),
        "templates": [template.name for template in service.templates.values()],
        "publicBaseUrl": request.app.state.settings.public_base_url,
    }
