"""The bits of Entra ID's token endpoint every client of the lab's cloud uses to sign a person
in (the connector's set-up, devices' enrolment, the lab's commands): the resource-owner
password grant of a public client."""

from __future__ import annotations

PUBLIC_CLIENT_ID = "d1ddf0e4-d672-4dae-b554-9d5bdfd93547"  # Microsoft Intune PowerShell
"""A public client for the password grant (any GUID does; this one is what admins' tools use)."""
INTUNE_SCOPE = "https://api.manage.microsoft.com//.default"  # as the IRA library sends it
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def token_path(tenant: str) -> str:
    """The token endpoint of a tenant (its id or a domain of it), relative to the cloud."""
    return f"/{tenant}/oauth2/v2.0/token"


def password_grant(upn: str, password: str, scope: str = INTUNE_SCOPE) -> dict[str, str]:
    """The form body of a password-grant token request."""
    return {
        "grant_type": "password",
        "client_id": PUBLIC_CLIENT_ID,
        "scope": scope,
        "username": upn,
        "password": password,
    }
