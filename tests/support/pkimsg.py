"""Describe a captured SCEP pkiMessage (for golden vectors and harness tests).

Independent of the project's own SCEP code on purpose: asn1crypto for structure, cryptography for
the signature check, and the ``openssl`` CLI (legacy provider on) to open the envelope.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, parser
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.clients import openssl_cms_decrypt

__all__ = ["SCEP_ATTR_NAMES", "describe_pki_message", "transaction_id_format"]

SCEP_ATTR_NAMES = {
    "2.16.840.1.113733.1.9.2": "messageType",
    "2.16.840.1.113733.1.9.3": "pkiStatus",
    "2.16.840.1.113733.1.9.4": "failInfo",
    "2.16.840.1.113733.1.9.5": "senderNonce",
    "2.16.840.1.113733.1.9.6": "recipientNonce",
    "2.16.840.1.113733.1.9.7": "transactionID",
    "1.3.6.1.5.5.7.24.1": "failInfoText",
    "1.2.840.113549.1.9.3": "contentType",
    "1.2.840.113549.1.9.4": "messageDigest",
    "1.2.840.113549.1.9.5": "signingTime",
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
    "1.2.840.113549.2.5": hashes.MD5,
}


def transaction_id_format(tid: str) -> str:
    if re.fullmatch(r"[0-9]+", tid):
        return "decimal"
    if re.fullmatch(r"[0-9A-Fa-f]+", tid):
        return f"hex ({len(tid)} chars)"
    if re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", tid) and len(tid) % 4 == 0:
        return f"base64 ({len(base64.b64decode(tid))} bytes)"
    return "other"


def _attr_value(attr: cms.CMSAttribute) -> Any:
    value = attr["values"][0]
    if isinstance(value, core.Any):
        value = value.parse()
    return value


def _encrypted_content_encoding(enc: cms.EncryptedContentInfo) -> str:
    """'primitive' or 'constructed (N chunks)' for the [0] encryptedContent (raw BER)."""
    data = enc.contents
    pos = 0
    while pos < len(data):
        info = parser.parse(data[pos:])
        cls, method, tag, header, content, trailer = info
        size = len(header) + len(content) + len(trailer)
        if cls == 2 and tag == 0:  # [0] encryptedContent
            if method == 0:
                return "primitive"
            chunks = 0
            cpos = 0
            while cpos < len(content):
                _, _, ctag, ch, cc, ct = parser.parse(content[cpos:])
                if ctag == 0 and not ch:
                    break
                chunks += 1
                cpos += len(ch) + len(cc) + len(ct)
            indefinite = header[-1:] == b"\x80"
            return f"constructed ({chunks} chunks{', indefinite length' if indefinite else ''})"
        pos += size
    return "absent"


def describe_pki_message(
    der: bytes,
    *,
    ra_key_pem: Path | None = None,
    ra_cert_pem: Path | None = None,
    known_certs: dict[str, x509.Certificate] | None = None,
) -> dict[str, Any]:
    """Structured summary of a PKCSReq/RenewalReq pkiMessage.

    With ``ra_key_pem`` the envelope is decrypted (openssl) and the CSR summarised.
    ``known_certs`` (label → certificate) names the certificates that RecipientInfos point at.
    """
    ci = cms.ContentInfo.load(der)
    out: dict[str, Any] = {"outer_content_type": ci["content_type"].native}
    sd = ci["content"]
    out["signed_data_version"] = sd["version"].native
    out["digest_algorithms"] = [a["algorithm"].dotted for a in sd["digest_algorithms"]]
    eci = sd["encap_content_info"]
    out["econtent_type"] = eci["content_type"].native

    certs = [c.chosen for c in sd["certificates"]] if sd["certificates"].native else []
    out["certificates"] = [
        {
            "subject": c.subject.human_friendly,
            "issuer": c.issuer.human_friendly,
            "version": c["tbs_certificate"]["version"].native,
            "serial": c.serial_number,
            "self_signed": c.self_signed != "no",
        }
        for c in certs
    ]

    signer = sd["signer_infos"][0]
    sid = signer["sid"]
    out["signer_info_version"] = signer["version"].native
    out["signer_digest_algorithm"] = signer["digest_algorithm"]["algorithm"].dotted
    sig_alg = signer["signature_algorithm"]["algorithm"]
    out["signature_algorithm"] = f"{sig_alg.native} ({sig_alg.dotted})"
    out["signer_id"] = sid.name
    signer_cert = None
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        for c in certs:
            if c.issuer == ias["issuer"] and c.serial_number == ias["serial_number"].native:
                signer_cert = c
    out["signer_subject"] = signer_cert.subject.human_friendly if signer_cert else None
    out["signer_cert_version"] = (
        signer_cert["tbs_certificate"]["version"].native if signer_cert else None
    )

    attrs: dict[str, Any] = {}
    order: list[str] = []
    for attr in signer["signed_attrs"]:
        oid = attr["type"].dotted
        name = SCEP_ATTR_NAMES.get(oid, oid)
        order.append(name)
        value = _attr_value(attr)
        native = value.native
        attrs[name] = native
    out["signed_attr_order"] = order
    out["message_type"] = attrs.get("messageType")
    tid = attrs.get("transactionID")
    out["transaction_id"] = tid
    out["transaction_id_format"] = transaction_id_format(tid) if tid else None
    nonce = attrs.get("senderNonce")
    out["sender_nonce_len"] = len(nonce) if isinstance(nonce, bytes) else None
    out["signing_time_present"] = "signingTime" in attrs
    if signer_cert is not None and tid is not None:
        out["transaction_id_equals_signer_serial"] = tid == str(signer_cert.serial_number)

    # signature check with cryptography
    if signer_cert is not None:
        crypto_cert = x509.load_der_x509_certificate(signer_cert.dump())
        pub = crypto_cert.public_key()
        halg = _HASHES[out["signer_digest_algorithm"]]()
        signed_attrs_der = signer["signed_attrs"].untag().dump(force=True)
        # messageDigest must match the eContent octets
        content = eci["content"].native or b""
        h = hashlib.new(halg.name, content).digest()
        out["message_digest_matches"] = attrs.get("messageDigest") == h
        try:
            assert isinstance(pub, rsa.RSAPublicKey)
            pub.verify(signer["signature"].native, signed_attrs_der, padding.PKCS1v15(), halg)
            out["signature_valid"] = True
        except (InvalidSignature, AssertionError):
            out["signature_valid"] = False

    # envelope
    env_der = eci["content"].native
    env = cms.ContentInfo.load(env_der)
    out["envelope_content_type"] = env["content_type"].native
    ed = env["content"]
    out["enveloped_data_version"] = ed["version"].native
    recips = []
    known = known_certs or {}
    for ri in ed["recipient_infos"]:
        item: dict[str, Any] = {"type": ri.name}
        if ri.name == "ktri":
            k = ri.chosen
            item["key_encryption_algorithm"] = k["key_encryption_algorithm"]["algorithm"].dotted
            params = k["key_encryption_algorithm"]["parameters"]
            item["kea_parameters"] = (
                "NULL"
                if isinstance(params, core.Null)
                else "absent"
                if isinstance(params, core.Void)
                else params.dump().hex()
            )
            rid = k["rid"]
            if rid.name == "issuer_and_serial_number":
                serial = rid.chosen["serial_number"].native
                item["serial"] = serial
                item["names"] = next(
                    (label for label, c in known.items() if c.serial_number == serial), None
                )
        recips.append(item)
    out["recipient_infos"] = recips
    enc = ed["encrypted_content_info"]
    calg = enc["content_encryption_algorithm"]
    out["content_cipher"] = f"{calg['algorithm'].native} ({calg['algorithm'].dotted})"
    out["encrypted_content_encoding"] = _encrypted_content_encoding(enc)
    params = calg["parameters"]
    out["content_cipher_iv_len"] = len(params.native) if isinstance(params.native, bytes) else None

    out["econtent_der_len"] = len(env_der)
    if ra_key_pem is not None:
        csr_der = openssl_cms_decrypt(env_der, ra_key_pem, ra_cert_pem)
        csr = x509.load_der_x509_csr(csr_der)
        out["csr_subject"] = csr.subject.rfc4514_string()
        out["csr_signature_valid"] = csr.is_signature_valid
        out["csr_signature_algorithm"] = csr.signature_algorithm_oid.dotted_string
        pk = csr.public_key()
        out["csr_key_size"] = pk.key_size if isinstance(pk, rsa.RSAPublicKey) else None
        challenge = None
        try:
            challenge_attr = csr.attributes.get_attribute_for_oid(
                x509.oid.AttributeOID.CHALLENGE_PASSWORD
            )
            challenge = (
                challenge_attr.value.decode()
                if isinstance(challenge_attr.value, bytes)
                else str(challenge_attr.value)
            )
        except x509.AttributeNotFound:
            pass
        out["csr_challenge"] = challenge
        out["csr_attributes"] = [a.oid.dotted_string for a in csr.attributes]
        out["csr_extensions"] = [e.oid.dotted_string for e in csr.extensions]
        if tid:
            spki = pk.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            pkcs1 = pk.public_bytes(Encoding.DER, PublicFormat.PKCS1)
            for label, blob in (("SPKI", spki), ("PKCS1", pkcs1)):
                for hname in ("sha1", "md5", "sha256"):
                    full = hashlib.new(hname, blob).digest()
                    for size in sorted({len(full), 20, 16}):
                        d = full[:size]
                        if size > len(full):
                            continue
                        forms = {
                            "base64": base64.b64encode(d).decode(),
                            "hex": d.hex(),
                            "HEX": d.hex().upper(),
                        }
                        for form, text in forms.items():
                            if tid == text:
                                cut = "" if size == len(full) else f"[:{size}]"
                                out["transaction_id_derivation"] = (
                                    f"{form}({hname}({label} of CSR key){cut})"
                                )
    return out
