"""Dashboard and API access: users (scrypt password hashes) and bearer tokens with roles, HTTP Basic/Bearer checks,
and the /live Origin check."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.datastructures import Headers

from monitor.access.hashing import SecretChecker, StoredHash, parse_hash
from monitor.config.trust import AccessConfig

log = logging.getLogger("callwarden.access")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
MAX_CREDENTIAL_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a configured user or token name (or "anonymous" in open mode) and their role."""

    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


OPEN_ACCESS = Principal("anonymous", "admin")


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    """A stored hash: scrypt$n$r$p$salt$hash (base64), with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches a scrypt$… hash (or a sha256$hex token hash); constant-time comparison."""
    parts = stored.split("$")
    try:
        if parts[0] == "sha256" and len(parts) == 2:
            return hmac.compare_digest(hashlib.sha256(password.encode()).hexdigest(), parts[1].lower())
        if parts[0] != "scrypt" or len(parts) != 6:
            return False
        n, r, p = (int(x) for x in parts[1:4])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**26)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


class AccessControl:
    """Checks credentials of GET requests and /live upgrades against `access` (open when nothing is configured)."""

    def __init__(self, access: AccessConfig, host: str) -> None:
        self.access = access
        self._users = {name: _entry(value) for name, value in access.users.items()}
        self._tokens = {name: _entry(value) for name, value in access.tokens.items()}
        self._secrets = SecretChecker()
        if not access.enabled:
            level = logging.WARNING if host in LOOPBACK_HOSTS else logging.ERROR
            log.log(
                level,
                "SECURITY: dashboard and API are OPEN (no access.users configured) on %s — anyone who can reach "
                "the port sees calls and may erase them. Configure access.users (callwarden users hash-password) "
                "and access.require_auth: true for production (docs/security.md)",
                host,
            )

    async def authenticate(self, headers: Headers) -> Principal | None:
        """The principal of a request, None when credentials are required and missing, duplicated or wrong.

        Hashes are checked off the event loop (SecretChecker); an unknown user name costs the same hash work
        as a wrong password, so the callers' `refusal_delay` answers both alike."""
        if not self.access.enabled:
            return OPEN_ACCESS
        values = headers.get_all("Authorization")
        if len(values) != 1 or len(values[0]) > MAX_CREDENTIAL_CHARS:
            return None
        scheme, _, value = values[0].strip().partition(" ")
        if scheme.lower() == "basic":
            return await self._basic(value.strip())
        if scheme.lower() == "bearer":
            return await self._bearer(value.strip())
        return None

    async def _basic(self, value: str) -> Principal | None:
        try:
            name, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            name, sep, password = "", "", ""
        user = self._users.get(name) if sep else None
        if not await self._secrets.matches(password, user[1] if user is not None else None):
            return None
        assert user is not None
        return Principal(name, user[0])

    async def _bearer(self, token: str) -> Principal | None:
        found = None
        for name, (role, stored) in self._tokens.items():  # no early exit: every token costs the same
            if await self._secrets.matches(token, stored) and found is None:
                found = Principal(name, role)
        return found

    def origin_allowed(self, headers: Headers) -> bool:
        """A browser's /live upgrade must come from the service's own host (or an allowed origin); no Origin = no
        browser, allowed (credentials still apply)."""
        origin = headers.get("Origin")
        if origin is None:
            return True
        if origin.rstrip("/") in self.access.origins:
            return True
        return urlsplit(origin).netloc.lower() == headers.get("Host", "").lower()


def _entry(value: str) -> tuple[str, StoredHash]:
    """A configured "role:hash" entry, parsed once (AccessConfig already checked its shape)."""
    role, _, stored = value.partition(":")
    return role, parse_hash(stored)
