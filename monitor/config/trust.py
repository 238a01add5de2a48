"""Config sections of the trust features: data encryption keys, retention periods (GDPR) and dashboard/API access."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("supervisor", "admin")


class TrustConfigError(ValueError):
    """A trust setting is wrong (the config loader adds the file or variable it came from)."""


@dataclass(frozen=True, slots=True)
class EncryptionConfig:
    """Data keys for encryption at rest: `key` (base64, 32 bytes) or `key_file`; else a key file in the data dir.

    `retired_keys` (comma-separated base64) still decrypt rows written before a rotation. Environment:
    CALLWARDEN_DATA_KEY, CALLWARDEN_DATA_KEYS_RETIRED, CALLWARDEN_DATA_KEY_FILE. The key never comes from the database.
    """

    key: str = field(default="", repr=False)
    retired_keys: str = field(default="", repr=False)
    key_file: str = ""

    @property
    def retired(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in self.retired_keys.split(",") if k.strip())


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How many days each kind of data is kept after its call started (0 = forever), and how often purge runs."""

    transcripts_days: float = 90.0
    findings_days: float = 365.0
    reports_days: float = 365.0
    consent_days: float = 1095.0
    audit_days: float = 730.0
    purge_interval_seconds: float = 3600.0

    def __post_init__(self) -> None:
        for name in ("transcripts_days", "findings_days", "reports_days", "consent_days", "audit_days"):
            days = getattr(self, name)
            if days < 0:
                raise TrustConfigError(f"retention.{name} must be ≥ 0 days (0 keeps forever), not {days}")
        if self.purge_interval_seconds <= 0:
            raise TrustConfigError(
                f"retention.purge_interval_seconds must be > 0, not {self.purge_interval_seconds} (e.g. 3600)"
            )


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """Who may use the dashboard and the API.

    `users`: name → "role:scrypt-hash" (role supervisor or admin; hash from `callwarden users hash-password`);
    `tokens`: name → "role:sha256-hex of the bearer token" (for machines); `require_auth`: refuse everything
    without valid credentials even when no user is configured; `allowed_origins`: extra Origins (comma-separated)
    allowed to open /live besides the service's own host.
    """

    require_auth: bool = False
    users: dict[str, str] = field(default_factory=dict, repr=False)
    tokens: dict[str, str] = field(default_factory=dict, repr=False)
    allowed_origins: str = ""

    def __post_init__(self) -> None:
        for kind, entries in (("users", self.users), ("tokens", self.tokens)):
            for name, value in entries.items():
                role, sep, secret = value.partition(":")
                if not sep or role not in ROLES or not secret:
                    raise TrustConfigError(
                        f"access.{kind}.{name} must be 'ROLE:HASH' with ROLE one of {', '.join(ROLES)} "
                        f"(hash from `callwarden users hash-password`{' or sha256 of the token' * (kind == 'tokens')})"
                    )

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip())

    @property
    def enabled(self) -> bool:
        """True when credentials are checked (users or tokens configured, or require_auth)."""
        return self.require_auth or bool(self.users) or bool(self.tokens)
