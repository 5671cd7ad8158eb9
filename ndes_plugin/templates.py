"""Which certificate template a request goes to: the MSCEP registry values, by key usage.

NDES reads the keyUsage extension the PKCS#10 asks for (ndes-scep.md, "Template selection"):
digitalSignature without keyEncipherment → SignatureTemplate; keyEncipherment without
digitalSignature → EncryptionTemplate; both → GeneralPurposeTemplate. Other bits are ignored.

A CSR with no keyUsage extension (or one with neither bit) is undocumented [?]. We send it to
GeneralPurposeTemplate: NDES finds neither bit, and "no restriction asked" is closest to "both";
it is also the template that works with every client that leaves key usage to the CA.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass


@dataclass(frozen=True)
class TemplateMap:
    """The three MSCEP registry values (template names, not display names)."""

    signature: str
    encryption: str
    general_purpose: str


def select_template(key_usage: Set[str] | None, templates: TemplateMap) -> str:
    usage = key_usage or frozenset()
    signs = "digital_signature" in usage
    encrypts = "key_encipherment" in usage
    if signs and not encrypts:
        return templates.signature
    if encrypts and not signs:
        return templates.encryption
    return templates.general_purpose
