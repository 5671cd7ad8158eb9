"""Key pairs: what to make (`KeySpec`), random or derived from a seed, and PEM in and out.

`derive_key` is deterministic: the same spec, seed and label always give the same key, so a lab
PKI can be rebuilt byte for byte. RSA primes come from a SHAKE-256 stream seeded by the inputs,
sieved by small primes, then tested with Miller-Rabin; EC scalars are hashed from the same stream.
Derived keys are for the lab only: the seed is the whole secret.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

KeyKind = Literal["rsa", "ec"]
EcCurve = Literal["P-256", "P-384"]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

RSA_SIZES = frozenset({1024, 2048, 3072, 4096})
PUBLIC_EXPONENT = 65537

_CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {
    # name: (curve class, group order n)
    "P-256": (
        ec.SECP256R1,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    "P-384": (
        ec.SECP384R1,
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    ),
}
_CURVE_BITS: dict[str | None, int] = {"P-256": 256, "P-384": 384}
_CURVE_BY_SIZE: dict[int, EcCurve] = {256: "P-256", 384: "P-384"}
_CURVE_NAMES: dict[str, EcCurve] = {"secp256r1": "P-256", "secp384r1": "P-384"}


@dataclass(frozen=True)
class KeySpec:
    """What key pair to make: RSA of `size` bits, or EC on `curve` (`size` is then the curve's)."""

    kind: KeyKind = "rsa"
    size: int = 2048
    curve: EcCurve | None = None

    def __post_init__(self) -> None:
        if self.kind == "rsa":
            if self.size not in RSA_SIZES:
                sizes = sorted(RSA_SIZES)
                raise ValueError(f"RSA key size must be one of {sizes}, not {self.size}")
            if self.curve is not None:
                raise ValueError("an RSA key spec takes no curve")
        elif self.kind == "ec":
            curve = self.curve or _CURVE_BY_SIZE.get(self.size)
            if curve not in _CURVE_BITS:
                wrong = self.curve or f"size {self.size}"
                raise ValueError(f"EC curve must be P-256 or P-384, not {wrong}")
            object.__setattr__(self, "curve", curve)
            object.__setattr__(self, "size", _CURVE_BITS[curve])
        else:
            raise ValueError(f"key kind must be 'rsa' or 'ec', not {self.kind!r}")

    @classmethod
    def rsa(cls, size: int = 2048) -> KeySpec:
        return cls("rsa", size)

    @classmethod
    def ec(cls, curve: EcCurve = "P-256") -> KeySpec:
        return cls("ec", _CURVE_BITS.get(curve, 0), curve)

    def __str__(self) -> str:
        return f"RSA-{self.size}" if self.kind == "rsa" else f"EC-{self.curve}"


def generate_key(spec: KeySpec) -> PrivateKey:
    """A fresh random key pair (OpenSSL's generator)."""
    if spec.kind == "rsa":
        return rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=spec.size)
    curve_cls, _ = _CURVES[_curve_of(spec)]
    return ec.generate_private_key(curve_cls())


def derive_key(spec: KeySpec, seed: bytes, label: str) -> PrivateKey:
    """The key pair `spec` derived from `seed` and `label`: same inputs, same key, every time.

    Memoised per process (an RSA-2048 derivation costs a few tenths of a second): the function
    is pure and keys are immutable, so the memo is not observable.
    """
    return _derive_memo(spec, bytes(seed), label)


@functools.lru_cache(maxsize=128)
def _derive_memo(spec: KeySpec, seed: bytes, label: str) -> PrivateKey:
    stream = _Stream(seed, label, str(spec))
    if spec.kind == "rsa":
        return _derive_rsa(spec.size, stream)
    curve_cls, order = _CURVES[_curve_of(spec)]
    # 64 extra bits make the bias of the reduction negligible (FIPS 186-5 A.2.1).
    nbytes = (order.bit_length() + 64 + 7) // 8
    scalar = int.from_bytes(stream.read(nbytes), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, curve_cls())


def key_size_of(public_key: CertificatePublicKeyTypes | PrivateKey) -> int:
    """The size in bits of an RSA or DSA modulus, of an EC curve, or of an Edwards key."""
    if isinstance(public_key, rsa.RSAPublicKey | rsa.RSAPrivateKey | dsa.DSAPublicKey):
        return public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return public_key.curve.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey | x25519.X25519PublicKey):
        return 256
    if isinstance(public_key, ed448.Ed448PublicKey | x448.X448PublicKey):
        return 448
    raise ValueError(f"no key size for a {type(public_key).__name__}")


def key_spec_of(key: PrivateKey | PublicKey) -> KeySpec:
    """The `KeySpec` an existing key pair matches."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return KeySpec.rsa(key.key_size)
    name = _CURVE_NAMES.get(key.curve.name)
    if name is None:
        raise ValueError(f"unsupported EC curve {key.curve.name}")
    return KeySpec.ec(name)


def load_private_key_pem(data: bytes, password: bytes | None = None) -> PrivateKey:
    """An RSA or EC private key from PEM (PKCS#8 or traditional); ValueError if it is neither."""
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"expected an RSA or EC private key, got {type(key).__name__}")
    return key


def private_key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _curve_of(spec: KeySpec) -> EcCurve:
    if spec.curve is None:  # pragma: no cover - KeySpec.__post_init__ always sets it for EC
        raise ValueError("EC key spec without a curve")
    return spec.curve


class _Stream:
    """A deterministic byte stream: SHAKE-256 over the inputs, in counter-mode blocks."""

    _DOMAIN = b"intune-scep-lab/derive-key/v1"

    def __init__(self, seed: bytes, label: str, spec: str) -> None:
        parts = (self._DOMAIN, seed, label.encode(), spec.encode())
        self._prefix = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
        self._counter = 0

    def read(self, n: int) -> bytes:
        self._counter += 1
        shake = hashlib.shake_256(self._prefix + self._counter.to_bytes(8, "big"))
        return shake.digest(n)

    def below(self, bound: int) -> int:
        """A number in [2, bound - 2], for Miller-Rabin bases."""
        nbytes = (bound.bit_length() + 64 + 7) // 8
        return int.from_bytes(self.read(nbytes), "big") % (bound - 3) + 2


def _small_primes(limit: int) -> tuple[int, ...]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return tuple(i for i in range(3, limit) if sieve[i])


# (p, 1/2 mod p) for the odd primes below 2^16
_SMALL_PRIMES = tuple((p, (p + 1) // 2) for p in _small_primes(1 << 16))
_WINDOW = 4096  # odd candidates sieved at once


def _miller_rabin_rounds(bits: int) -> int:
    # FIPS 186-5 table B.1 asks 5 rounds (1024-bit) and 7 (512-bit) for random candidates at an
    # error below 2^-100; we do more.
    return 8 if bits >= 1024 else 12


def _is_probable_prime(n: int, stream: _Stream) -> bool:
    if pow(2, n - 1, n) != 1:  # cheap Fermat filter: almost every composite stops here
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(_miller_rabin_rounds(n.bit_length())):
        x = pow(stream.below(n), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _derive_prime(bits: int, stream: _Stream) -> int:
    """A `bits`-bit prime p with the two top bits set and gcd(e, p - 1) = 1."""
    while True:
        start = int.from_bytes(stream.read((bits + 7) // 8), "big") >> (-bits % 8)
        start |= (0b11 << (bits - 2)) | 1
        # candidate i of the window is start + 2i; strike those divisible by a small prime
        window = bytearray([1]) * _WINDOW
        for p, half_p in _SMALL_PRIMES:
            first = (-start * half_p) % p
            window[first::p] = bytes(len(range(first, _WINDOW, p)))
        for i in range(_WINDOW):
            if not window[i]:
                continue
            candidate = start + 2 * i
            if candidate.bit_length() != bits:
                break
            if (candidate - 1) % PUBLIC_EXPONENT == 0:
                continue
            if _is_probable_prime(candidate, stream):
                return candidate


def _derive_rsa(size: int, stream: _Stream) -> rsa.RSAPrivateKey:
    half = size // 2
    p = _derive_prime(half, stream)
    while True:
        q = _derive_prime(size - half, stream)
        # p and q must differ in their top 100 bits (FIPS 186-5 A.1.3)
        if abs(p - q).bit_length() > half - 100:
            break
    if p < q:
        p, q = q, p
    e = PUBLIC_EXPONENT
    d = pow(e, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    # The primes passed our own tests; OpenSSL's RSA_check_key would test them again (~50 ms).
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)
