"""Identity and access, as Entra ID and Intune see it: tenants, users, groups, app registrations,
the two resources a token can be for (Intune and Graph), the permissions an app can be granted,
scope parsing as Entra's token endpoint does it, and secret hashing.

Pure: no HTTP, no storage. Secrets are hashed with scrypt and never kept or logged in plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType, TypedDict

from .errors import DomainError

TenantId = NewType("TenantId", str)
UserId = NewType("UserId", str)
GroupId = NewType("GroupId", str)
AppId = NewType("AppId", str)


class IdentityError(DomainError):
    """Root of the identity area's errors."""


class NotFound(IdentityError, LookupError):
    """No such tenant, user, group or app registration (in that tenant)."""


class AlreadyExists(IdentityError):
    """A tenant domain, UPN or object id that is already taken."""


class InvalidValue(IdentityError, ValueError):
    """A value the directory refuses: a malformed UPN or SID, an unknown role or permission."""


class InvalidCredential(IdentityError):
    """A wrong password or client secret, or an object that has none."""


class ScopeError(IdentityError):
    """A `scope` the token endpoint refuses: `error` and `aadsts` (code) are Entra's."""

    def __init__(self, aadsts: int, scope: str) -> None:
        self.error, template = _SCOPE_ERRORS[aadsts]
        self.aadsts = aadsts
        super().__init__(template.format(scope))


_SCOPE_ERRORS = {  # AADSTS code: (error, message), as Entra words them
    70011: ("invalid_scope", "The provided value for the input parameter 'scope' is not valid."),
    28000: ("invalid_scope", "Scope {} is not valid: it contains more than one resource."),
    1002012: (
        "invalid_scope",
        "The provided value for scope {} is not valid. Client credential "
        "flows must have a scope value with /.default suffixed to the resource identifier.",
    ),
    500011: ("invalid_resource", "The resource principal named {} was not found in the tenant."),
}


class Resource(StrEnum):
    """The resources this cloud issues tokens for; the value is the token's `aud`."""

    INTUNE = "https://api.manage.microsoft.com/"
    GRAPH = "https://graph.microsoft.com"


INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_RESOURCE_ALIASES = {
    "https://api.manage.microsoft.com": Resource.INTUNE,
    INTUNE_APP_ID: Resource.INTUNE,
    "https://graph.microsoft.com": Resource.GRAPH,
    GRAPH_APP_ID: Resource.GRAPH,
}

# Application permissions an app may be granted (Intune's app roles; a few of Graph's)
PERMISSIONS: Mapping[str, Resource] = {
    "scep_challenge_provider": Resource.INTUNE,
    "pfx_cert_provider": Resource.INTUNE,
    "get_device_compliance": Resource.INTUNE,
    "Application.Read.All": Resource.GRAPH,
    "User.Read.All": Resource.GRAPH,
    "Group.Read.All": Resource.GRAPH,
    "Device.Read.All": Resource.GRAPH,
    "DeviceManagementConfiguration.ReadWrite.All": Resource.GRAPH,
    "DeviceManagementManagedDevices.Read.All": Resource.GRAPH,
}
_PERMISSIONS_FOLDED = {name.casefold(): name for name in PERMISSIONS}

# Delegated scopes an administrator's `.default` token carries, per resource.
DEFAULT_DELEGATED_SCOPES: Mapping[Resource, str] = {
    Resource.INTUNE: "user_impersonation",
    Resource.GRAPH: "DeviceManagementConfiguration.ReadWrite.All "
    "DeviceManagementManagedDevices.ReadWrite.All Group.ReadWrite.All User.ReadWrite.All",
}
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


class DirectoryRole(StrEnum):
    """= `cloud_sim.auth.Role`. Read Only Operator is an Intune role: no Entra template id."""

    GLOBAL_ADMINISTRATOR = "Global Administrator"
    INTUNE_ADMINISTRATOR = "Intune Administrator"
    READ_ONLY_OPERATOR = "Read Only Operator"

    @property
    def template_id(self) -> str | None:
        return _ROLE_TEMPLATE_IDS.get(self)


_ROLE_TEMPLATE_IDS = {
    DirectoryRole.GLOBAL_ADMINISTRATOR: "62e90394-69f5-4237-9190-012177145e10",
    DirectoryRole.INTUNE_ADMINISTRATOR: "3a2c62db-5318-420d-8d74-23affee5d9d5",
}
DEFAULT_USER_ROLE_TEMPLATE_ID = "b79fbf4d-3ef9-4689-8143-76b194e85509"  # in every user's `wids`


class MemberKind(StrEnum):
    USER, DEVICE = "user", "device"


@dataclass(frozen=True)
class Tenant:
    id: TenantId
    display_name: str
    default_domain: str


@dataclass(frozen=True)
class User:
    id: UserId
    tenant_id: TenantId
    user_principal_name: str
    display_name: str
    mail: str | None = None
    on_premises_sam_account_name: str | None = None
    on_premises_security_identifier: str | None = None
    on_premises_distinguished_name: str | None = None
    roles: frozenset[DirectoryRole] = frozenset()
    intune_licensed: bool = True
    account_enabled: bool = True

    @property
    def role_template_ids(self) -> list[str]:
        """The `wids` claim: the default user role, then each Entra role's template id."""
        ids = sorted(r.template_id for r in self.roles if r.template_id is not None)
        return [DEFAULT_USER_ROLE_TEMPLATE_ID, *ids]


class UserAttributes(TypedDict, total=False):  # optional keywords of store's create_user
    mail: str | None
    on_premises_sam_account_name: str | None
    on_premises_security_identifier: str | None
    on_premises_distinguished_name: str | None
    intune_licensed: bool
    account_enabled: bool


@dataclass(frozen=True)
class Group:
    id: GroupId
    tenant_id: TenantId
    display_name: str
    description: str | None = None


@dataclass(frozen=True)
class GroupMember:
    kind: MemberKind
    id: str


@dataclass(frozen=True)
class AppRegistration:
    """An application and its service principal in the tenant (`object_id` is the latter's)."""

    app_id: AppId
    object_id: str
    tenant_id: TenantId
    display_name: str
    permissions: frozenset[str] = frozenset()
    secret_hint: str | None = None

    def permissions_for(self, resource: Resource) -> list[str]:
        """The `roles` claim of a token for `resource`."""
        return sorted(p for p in self.permissions if PERMISSIONS[p] is resource)


@dataclass(frozen=True)
class ScopeRequest:
    """What a token request's `scope` asks for: one resource; its named scopes (none: .default)"""

    resource: Resource
    names: tuple[str, ...] = ()


def parse_scope(scope: str, *, app_only: bool) -> ScopeRequest:
    """`scope` as Entra reads it: `<resource URI or app id>/.default`, with one slash or two (as
    the IRA library sends it); for users also named scopes and the OpenID ones. `app_only`: the
    client-credentials rule, one `.default` scope and nothing else."""
    items = [s for s in scope.split() if s.casefold() not in OIDC_SCOPES]
    if not items:
        raise ScopeError(70011, scope)
    requested = [_split_scope(item) for item in items]
    if len({resource for resource, _ in requested}) > 1:
        raise ScopeError(28000, scope)
    names = tuple(name for _, name in requested if name != ".default")
    if app_only and (names or len(requested) > 1):
        raise ScopeError(1002012, scope)
    return ScopeRequest(requested[0][0], names)


def _split_scope(item: str) -> tuple[Resource, str]:
    prefix, slash, name = item.rpartition("/")
    if not slash:  # a bare scope name means Microsoft Graph, as in Entra
        return Resource.GRAPH, item
    resource = _RESOURCE_ALIASES.get(prefix.rstrip("/").casefold())
    if resource is None or not name:
        raise ScopeError(500011, prefix or item)
    return resource, name


def canonical_permission(name: str) -> str:
    """The catalogue spelling of a permission name (matched case-insensitively)."""
    found = _PERMISSIONS_FOLDED.get(name.casefold())
    if found is None:
        raise InvalidValue(f"unknown permission {name!r}; known: {', '.join(PERMISSIONS)}")
    return found


def canonical_roles(roles: Iterable[str]) -> frozenset[DirectoryRole]:
    try:
        return frozenset(DirectoryRole(role) for role in roles)
    except ValueError as exc:
        known = ", ".join(DirectoryRole)
        raise InvalidValue(f"unknown directory role ({exc}); known: {known}") from exc


_UPN = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_SID = re.compile(r"S-1-5-21(-\d{1,10}){4}")  # an on-premises account: domain (3 numbers), RID


def check_upn(upn: str) -> str:
    return _check(_UPN, upn, "a user principal name (name@domain)")


def check_domain(domain: str) -> str:
    return _check(_DOMAIN, domain, "a domain name").lower()


def check_sid(sid: str) -> str:
    return _check(_SID, sid, "a domain account SID (S-1-5-21-a-b-c-rid)")


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidValue(f"{value!r} is not {what}")
    return value


_SCRYPT = (2**14, 8, 1)  # N, r, p: 16 MiB a hash, slow for guessing, fine for a lab's logins


def hash_secret(secret: str) -> str:
    """`scrypt$N$r$p$salt$hash` (base64) for a password or client secret."""
    if not secret:
        raise InvalidValue("a password or secret must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT[0], r=_SCRYPT[1], p=_SCRYPT[2])
    encoded = (*_SCRYPT, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    return "$".join(("scrypt", *map(str, encoded)))


def verify_secret(secret: str, encoded: str | None) -> bool:
    """Whether `secret` matches `encoded` (from `hash_secret`); False when there is none."""
    if not encoded or not secret or not encoded.startswith("scrypt$"):
        return False
    _, n, r, p, salt, digest = encoded.split("$")
    actual = hashlib.scrypt(
        secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(actual, base64.b64decode(digest))


def new_client_secret() -> str:
    """A client secret shaped like Entra's: 40 characters, a 3-character hint, then `8Q~`."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
    chars = "".join(secrets.choice(alphabet) for _ in range(37))
    return f"{chars[:3]}8Q~{chars[3:]}"
