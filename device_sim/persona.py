"""How each platform's SCEP client behaves, as data: the quirks a server meets from Windows,
iOS/macOS and Android devices (ndes-scep.md §4; intune-api.md §4). The SCEP client
(`scep_client`) and the device (`device`) read a `Persona`; nothing else knows platforms.

- windows (ClientCertificateInstall CSP, certenroll): appends `/pkiclient.exe` to the server URL,
  asks GetCACert with `message=default`, sends PKIOperation by GET with the base64 as it is (a
  `+` left unescaped: which client does this is not documented; the lab gives the quirk to
  Windows so that NDES's tolerance of it is exercised), knows no RenewalReq (renews with a
  PKCSReq signed by the old certificate, without a challenge), reports failures as HRESULTs,
  encodes the challenge as a PrintableString.
- ios / macos (`com.apple.security.scep`): `message=` with the CA name of the payload, GET
  PKIOperation with "half-escaped" base64 (`+` and `/` escaped, `=` left as is), refuses a CA
  whose caps name no SHA-1/256/512 and one that offers only single DES, checks the chain
  strictly, renews only inside the renewal window (with a new challenge: a PKCSReq).
- android (Company Portal, jscep): `message=ca`, 40-hex SHA-1 transaction IDs, requires a SAN on
  device certificates and an HTTPS SCEP URL, picks one URL of the list at random and keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Platform(StrEnum):
    WINDOWS = "windows"
    IOS = "ios"
    MACOS = "macos"
    ANDROID = "android"


class GetEscaping(StrEnum):
    """How the base64 of a GET PKIOperation is put into the query string."""

    FULL = "full"
    """Percent-escape every reserved character (`+`, `/`, `=`), as RFC 8894 asks."""
    HALF = "half"
    """Escape `+` and `/` but leave `=` (Apple's clients)."""
    NONE = "none"
    """The raw base64, `+` included: a server must not read `+` as a space."""


class TransactionIds(StrEnum):
    RANDOM_HEX = "random-hex"
    """32 random hex digits."""
    SHA1_OF_KEY = "sha1-of-key"
    """40 hex digits: SHA-1 of the public key (jscep, Android)."""


class RenewalStyle(StrEnum):
    PKCSREQ_SIGNED_BY_OLD = "pkcsreq-signed-by-old"
    """A PKCSReq without a challenge, signed by the certificate it replaces (Windows)."""
    FRESH_CHALLENGE = "fresh-challenge"
    """A new enrolment with the challenge of the latest check-in (Apple, Android)."""


@dataclass(frozen=True)
class Persona:
    platform: Platform
    url_suffix: str
    """Appended to the profile's SCEP URL (Windows: `/pkiclient.exe`)."""
    cacert_message: str | None
    """`message=` of GetCACert (and GetCACaps); None: none sent. "{ca}" stands for the CA name."""
    pki_operation: str
    """"get" (when the server allows it) or "post"."""
    get_escaping: GetEscaping
    transaction_ids: TransactionIds
    renewal: RenewalStyle
    challenge_encoding: str
    """"printable" or "utf8": the ASN.1 string type of challengePassword."""
    requires_sha2_caps: bool = False
    """Refuse a CA whose GetCACaps lists none of SHA-1, SHA-256, SHA-512."""
    refuses_single_des: bool = False
    """Refuse a CA that offers neither DES3 nor AES."""
    requires_san: bool = False
    """Refuse a device-certificate profile without subject alternative names."""
    requires_https: bool = False
    random_url: bool = False
    """Pick one of the profile's URLs at random, then keep it."""
    renews_only_in_window: bool = False
    """Never renew before the renewal threshold (others may renew early when asked)."""
    roots_only_anchor: bool = True
    """The chain must end in an installed root (Android takes any installed CA as an anchor)."""
    refuses_sha1_chain: bool = False
    """Apple's strict chain check: no CA certificate signed with SHA-1."""

    def url(self, base: str) -> str:
        return base.rstrip("/") + self.url_suffix

    def message(self, ca_name: str) -> str | None:
        return None if self.cacert_message is None else self.cacert_message.format(ca=ca_name)


WINDOWS = Persona(
    platform=Platform.WINDOWS,
    url_suffix="/pkiclient.exe",
    cacert_message="default",
    pki_operation="get",
    get_escaping=GetEscaping.NONE,
    transaction_ids=TransactionIds.RANDOM_HEX,
    renewal=RenewalStyle.PKCSREQ_SIGNED_BY_OLD,
    challenge_encoding="printable",
)
IOS = Persona(
    platform=Platform.IOS,
    url_suffix="",
    cacert_message="{ca}",
    pki_operation="get",
    get_escaping=GetEscaping.HALF,
    transaction_ids=TransactionIds.RANDOM_HEX,
    renewal=RenewalStyle.FRESH_CHALLENGE,
    challenge_encoding="utf8",
    requires_sha2_caps=True,
    refuses_single_des=True,
    renews_only_in_window=True,
    refuses_sha1_chain=True,
)
MACOS = replace(IOS, platform=Platform.MACOS)  # the same SCEP client as iOS
ANDROID = Persona(
    platform=Platform.ANDROID,
    url_suffix="",
    cacert_message="ca",
    pki_operation="post",
    get_escaping=GetEscaping.FULL,
    transaction_ids=TransactionIds.SHA1_OF_KEY,
    renewal=RenewalStyle.FRESH_CHALLENGE,
    challenge_encoding="utf8",
    requires_san=True,
    requires_https=True,
    random_url=True,
    roots_only_anchor=False,
)
PERSONAS: dict[Platform, Persona] = {
    Platform.WINDOWS: WINDOWS,
    Platform.IOS: IOS,
    Platform.MACOS: MACOS,
    Platform.ANDROID: ANDROID,
}
