"""Device keys: where they live (the profile's key storage provider) and where they come from
(generated on the spot, or from a pool made beforehand so that a fleet's timing measures
enrolment, not RSA key generation)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.pki import KeySpec, generate_key


class KeyStorage(StrEnum):
    SOFTWARE = "software"
    TPM = "tpm"
    """The simulated TPM: the key signs and decrypts but never leaves (export refuses)."""


# Graph's keyStorageProvider → where a device with a TPM keeps the key
_PROVIDERS = {
    "useTpmKspOtherwiseUseSoftwareKsp": KeyStorage.TPM,
    "useTpmKspOtherwiseFail": KeyStorage.TPM,
    "usePassportForWorkKspOtherwiseFail": KeyStorage.TPM,
    "useSoftwareKsp": KeyStorage.SOFTWARE,
}


def storage_for(provider: str | None) -> KeyStorage:
    return _PROVIDERS.get(provider or "", KeyStorage.SOFTWARE)


class KeyNotExportable(Exception):
    pass


@dataclass(frozen=True)
class DeviceKey:
    private: rsa.RSAPrivateKey = field(repr=False)
    storage: KeyStorage

    @property
    def bits(self) -> int:
        return self.private.key_size

    def export_pem(self) -> bytes:
        """The private key as PKCS#8 PEM, if its storage lets it out."""
        if self.storage is KeyStorage.TPM:
            raise KeyNotExportable("the key is in the TPM and cannot be exported")
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class KeySource(Protocol):
    async def rsa(self, bits: int) -> rsa.RSAPrivateKey: ...


def _generate(bits: int) -> rsa.RSAPrivateKey:
    key = generate_key(KeySpec.rsa(bits))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class FreshKeys:
    """A new key for every request, generated in a worker thread."""

    async def rsa(self, bits: int) -> rsa.RSAPrivateKey:
        return await asyncio.to_thread(_generate, bits)


class KeyPool:
    """Keys generated up front (`fill`); taken one at a time, then generated when none is left.
    `generated` counts what had to be made after all."""

    def __init__(self) -> None:
        self._keys: dict[int, list[rsa.RSAPrivateKey]] = defaultdict(list)
        self.generated = 0

    async def fill(self, bits: int, count: int) -> None:
        made = await asyncio.gather(*(asyncio.to_thread(_generate, bits) for _ in range(count)))
        self._keys[bits].extend(made)

    async def rsa(self, bits: int) -> rsa.RSAPrivateKey:
        if self._keys[bits]:
            return self._keys[bits].pop()
        self.generated += 1
        return await asyncio.to_thread(_generate, bits)
