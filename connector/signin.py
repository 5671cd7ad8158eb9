"""Signing the connector in, as its set-up wizard does: an Intune administrator's user name and
password buy a token from the cloud's token endpoint (the resource-owner password grant of the
public "Microsoft Intune PowerShell" client), and the token buys the connector's identity
certificate (`cloud.enroll`). The password is used for that one call and kept nowhere."""

from __future__ import annotations

import ssl

import httpx

from shared.api.entra import password_grant, token_path
from shared.pki import KeySpec, generate_key

from .cloud import Identity, enroll
from .settings import ConnectorSettings


class SignInFailed(Exception):
    """The cloud refused the administrator's credentials (or the administrator)."""


async def admin_token(settings: ConnectorSettings, upn: str, password: str) -> str:
    """An access token for the Intune API, for the administrator `upn` of `upn`'s tenant."""
    tenant = upn.rpartition("@")[2]
    verify = ssl.create_default_context(cafile=str(settings.cloud_ca_path))
    async with httpx.AsyncClient(base_url=settings.cloud_url, verify=verify, timeout=30) as client:
        response = await client.post(token_path(tenant), data=password_grant(upn, password))
    if response.status_code != 200:
        try:
            reason = str(response.json().get("error_description", response.text))
        except ValueError:
            reason = response.text
        raise SignInFailed(f"sign-in refused: {reason.splitlines()[0][:300]}")
    token: str = response.json()["access_token"]
    return token


async def sign_in(settings: ConnectorSettings, upn: str, password: str, machine: str) -> Identity:
    """Sign in and keep the identity (key and certificate) in the data folder. Raises
    `SignInFailed`, `CloudError`, `httpx.HTTPError` or `OSError`; on any of them nothing is
    written."""
    token = await admin_token(settings, upn, password)
    return await enroll(
        settings.cloud_url,
        settings.cloud_ca_path,
        token,
        machine,
        generate_key(KeySpec.rsa(2048)),
        data_dir=settings.data_dir,
        connector_version=settings.connector_version,
    )
