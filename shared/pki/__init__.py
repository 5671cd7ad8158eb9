"""The PKI toolkit every party uses: keys, CSRs, issuance, and the declarative lab PKI.

Pure library code: no I/O except the files `build_lab_pki` and `files` read and write, and no
clock: every function that needs "now" takes it as an argument.
"""

from __future__ import annotations

from .csr import (
    CHALLENGE_PASSWORD_OID,
    EXTENSION_REQUEST_OID,
    ChallengeEncoding,
    ChallengeTag,
    CsrInfo,
    CsrSpec,
    build_csr,
    check_challenge_password,
    inspect_csr,
)
from .errors import CsrError, KeyFileError, LabPkiError, PkiError, UnknownLabel
from .files import (
    check_key_pair,
    load_certificate_file,
    load_key_pair,
    load_private_key_file,
    write_certificate_file,
    write_private_key_file,
)
from .issue import (
    CertProfile,
    build_self_signed_signer,
    fingerprint,
    issue_certificate,
    new_serial,
    serial_from,
)
from .keys import (
    EcCurve,
    KeyKind,
    KeySpec,
    PrivateKey,
    PublicKey,
    derive_key,
    generate_key,
    key_size_of,
    key_spec_of,
    load_private_key_pem,
    private_key_pem,
)
from .labpki import LabPki, build_lab_pki
from .labspec import CertSpec, LabCert, LabPkiSpec, default_lab_spec
from .sans import (
    SID_URI_PREFIX,
    UPN_OID,
    San,
    SanKind,
    build_general_name,
    build_subject_alternative_name,
    read_general_name,
    read_sid,
    read_subject_alternative_name,
    sid_san,
)
from .signing import DEFAULT_HASH, SignatureHash, check_signature_hash
from .usage import (
    KEY_USAGE_NAMES,
    Eku,
    KeyUsageName,
    build_extended_key_usage,
    build_key_usage,
    read_extended_key_usage,
    read_key_usage,
)

__all__ = [
    "CHALLENGE_PASSWORD_OID",
    "DEFAULT_HASH",
    "EXTENSION_REQUEST_OID",
    "KEY_USAGE_NAMES",
    "SID_URI_PREFIX",
    "UPN_OID",
    "CertProfile",
    "CertSpec",
    "ChallengeEncoding",
    "ChallengeTag",
    "CsrError",
    "CsrInfo",
    "CsrSpec",
    "EcCurve",
    "Eku",
    "KeyFileError",
    "KeyKind",
    "KeySpec",
    "KeyUsageName",
    "LabCert",
    "LabPki",
    "LabPkiError",
    "LabPkiSpec",
    "PkiError",
    "PrivateKey",
    "PublicKey",
    "San",
    "SanKind",
    "SignatureHash",
    "UnknownLabel",
    "build_csr",
    "build_extended_key_usage",
    "build_general_name",
    "build_key_usage",
    "build_lab_pki",
    "build_self_signed_signer",
    "build_subject_alternative_name",
    "check_challenge_password",
    "check_key_pair",
    "check_signature_hash",
    "default_lab_spec",
    "derive_key",
    "fingerprint",
    "generate_key",
    "inspect_csr",
    "issue_certificate",
    "key_size_of",
    "key_spec_of",
    "load_certificate_file",
    "load_key_pair",
    "load_private_key_file",
    "load_private_key_pem",
    "new_serial",
    "private_key_pem",
    "read_extended_key_usage",
    "read_general_name",
    "read_key_usage",
    "read_sid",
    "read_subject_alternative_name",
    "serial_from",
    "sid_san",
    "write_certificate_file",
    "write_private_key_file",
]
