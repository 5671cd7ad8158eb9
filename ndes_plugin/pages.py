"""The HTML pages mscep.dll renders, as NDES renders them: UTF-16LE (with a byte-order mark)
although the page's <Meta> says UTF-8 — clients that scrape the admin page must cope with that,
so we reproduce it. Text and markup follow pages captured from Windows Server (Fleet's test data,
ndes-scep.md "mscep_admin page"); the bare mscep.dll page is rendered the same way [I].
"""

from __future__ import annotations

from html import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from shared.pki import fingerprint

ENCODING = "utf-16-le"
BOM = "\ufeff"

_HEAD = (
    '<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-8">'
    "<Title>Network Device Enrollment Service</Title></Head><Body BgColor=#FFFFFF>"
    '<Font ID=locPageFont Face="Arial"><Table Border=0 CellSpacing=0 CellPadding=4 Width=100% '
    'BgColor=#008080><TR><TD><Font ID=locPageTitleFont Face="Arial" Size=-1 Color=#FFFFFF>'
    "<LocID ID=locMSCertSrv>Network Device Enrollment Service</LocID></Font></TD></TR></Table>"
    "<P ID=locPageTitle> Network Device Enrollment Service allows you to obtain certificates for "
    "routers or other network devices using the Simple Certificate Enrollment Protocol (SCEP). </P>"
)
_TAIL = (
    " <P ID=locPageDesc> For more information see  "
    "<A HREF=http://go.microsoft.com/fwlink/?LinkId=67852>Using Network Device Enrollment "
    "Service </A>. </P></Font></Body></HTML>"
)


def _page(body: str) -> bytes:
    return (BOM + _HEAD + body + _TAIL).encode(ENCODING)


def ca_thumbprint(ca_cert: x509.Certificate) -> str:
    """The MD5 thumbprint NDES shows: 32 upper-case hex digits in four groups of eight."""
    hexed = fingerprint(ca_cert, hashes.MD5())
    return " ".join(hexed[i : i + 8] for i in range(0, len(hexed), 8))


def password_page(ca_cert: x509.Certificate, password: str, validity_minutes: int) -> bytes:
    return _page(
        "<P> To complete certificate enrollment for your network device you will need the "
        "following information: <P> The thumbprint (hash value) for the CA certificate is: "
        f"<B> {ca_thumbprint(ca_cert)} </B> <P> The enrollment challenge password is: "
        f"<B> {escape(password)} </B> <P> This password can be used only once and will expire "
        f"within {validity_minutes} minutes. <P> Each enrollment requires a new challenge "
        "password. You can refresh this web page to obtain a new challenge password. </P>"
    )


def cache_full_page(validity_minutes: int, password_max: int) -> bytes:
    return _page(
        "<P> The password cache is full. <P> Network Device Enrollment Service stores unused "
        f"password for later use. By default, passwords are stored for {validity_minutes} "
        "minutes.<P>Use one of the existing passwords. If you cannot use an existing password: "
        "<UL> <LI> Wait until one or more existing passwords expire (by default passwords "
        f"expire {validity_minutes} minutes after they are created). </LI> <LI> Restart "
        "Internet Information Services (IIS). </LI> <LI> Configure the service to cache more "
        f"than {password_max} passwords. </LI> </UL> </P>"
    )


def no_password_page(ca_cert: x509.Certificate) -> bytes:
    """EnforcePassword = 0: our own wording (no capture of this page exists)."""
    return _page(
        "<P> To complete certificate enrollment for your network device you will need the "
        "following information: <P> The thumbprint (hash value) for the CA certificate is: "
        f"<B> {ca_thumbprint(ca_cert)} </B> <P> No enrollment challenge password is required: "
        "this server does not enforce one (EnforcePassword is 0). </P>"
    )


def info_page(admin_url: str) -> bytes:
    """What a bare GET of mscep.dll shows when no Intune policy module is installed."""
    return _page(
        "<P> This URL is used by network devices to submit certificate requests. </P>"
        "<P> To obtain an enrollment challenge password, go to the admin URL. By default, the "
        f"admin URL is <A HREF={escape(admin_url)}>{escape(admin_url)}</A> </P>"
    )
