"""Fixtures for the cloud's domain tests: the lab PKI (built once), the challenge keys, device keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cloud_sim.domain import ChallengeKeys
from shared.pki import LabCert, LabPki, build_lab_pki, default_lab_spec

PKI_START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPki:
    folder: Path = tmp_path_factory.mktemp("cloud-domain-pki")
    return build_lab_pki(default_lab_spec(b"seed", PKI_START), folder)


@pytest.fixture(scope="session")
def keys(lab_pki: LabPki) -> ChallengeKeys:
    sign, encrypt = LabCert.INTUNE_CHALLENGE_SIGN, LabCert.INTUNE_CHALLENGE_ENCRYPT
    return ChallengeKeys.load(
        (lab_pki.cert(sign), lab_pki.key(sign)), (lab_pki.cert(encrypt), lab_pki.key(encrypt))
    )


@pytest.fixture(scope="session")
def device_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def small_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
