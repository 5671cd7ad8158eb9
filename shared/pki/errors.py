"""The PKI toolkit's exceptions.

PkiError
├── KeyFileError     a key or certificate file is missing, corrupt, or does not match its pair
├── CsrError         a CSR that cannot be decoded (also a ValueError)
└── LabPkiError      a lab-PKI spec or folder that cannot be built or reused
    └── UnknownLabel  no certificate by that label (also a KeyError)

Building something from a bad *value* (a key size we do not do, a challenge password that is not a
PrintableString) raises a plain ValueError, as pyca/cryptography's builders do.
"""

from __future__ import annotations


class PkiError(Exception):
    """Root of the PKI toolkit's errors."""


class KeyFileError(PkiError, ValueError):
    """A key or certificate file is missing, corrupt, or not the pair it should be."""


class CsrError(PkiError, ValueError):
    """A certification request that cannot be decoded; the message says why."""


class LabPkiError(PkiError):
    """A lab-PKI spec that is inconsistent, or a folder that cannot be reused."""


class UnknownLabel(LabPkiError, KeyError):
    """No certificate by that label in the lab PKI."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""
