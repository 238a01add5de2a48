"""Config sections guarding the ingest endpoints: raw-protocol bearer tokens, TLS, and connection/rate limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.access.hashing import check_hashes
from monitor.config.trust import TrustConfigError


@dataclass(frozen=True, slots=True)
class RawConfig:
    """Callwarden's raw protocol: accepted bearer tokens, name → stored hash (sha256$… of a random token)."""

    tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        try:
            check_hashes(self.tokens, "raw.tokens", passwords=False)
        except ValueError as error:
            raise TrustConfigError(str(error)) from None


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS for every endpoint on the port (ingest, /live, HTTP API): PEM certificate chain and private key files."""

    cert: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if bool(self.cert) != bool(self.key):
            raise TrustConfigError("tls.cert and tls.key must be set together (PEM certificate chain and its key)")

    @property
    def enabled(self) -> bool:
        return bool(self.cert)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Limits every ingest connection obeys, and whether an endpoint without credentials configured is refused.

    Rate limits are token buckets per connection holding `rate_burst_seconds` worth of the rate; a connection
    that overdraws either is closed with 1008. 0 turns a limit off. `max_connections_per_address` counts every
    TCP connection of one remote address (handshakes included); behind a proxy that is the proxy's address.
    """

    require_auth: bool = False
    max_messages_per_second: float = 1000.0
    max_bytes_per_second: float = 4.0 * 1024 * 1024
    rate_burst_seconds: float = 2.0
    max_connections_per_address: int = 256
    open_timeout: float = 10.0
    call_idle_timeout: float = 30.0
    """A started call whose peer sends nothing for this long is ended (`idle`, incomplete) and its slot freed."""

    def __post_init__(self) -> None:
        for name in ("max_messages_per_second", "max_bytes_per_second", "max_connections_per_address"):
            if getattr(self, name) < 0:
                raise TrustConfigError(f"ingest.{name} must be ≥ 0 (0 = no limit), not {getattr(self, name)}")
        if self.rate_burst_seconds <= 0:
            raise TrustConfigError(f"ingest.rate_burst_seconds must be > 0 (e.g. 2), not {self.rate_burst_seconds}")
        if not 0 < self.open_timeout <= 120:
            raise TrustConfigError(f"ingest.open_timeout must be 0 < s ≤ 120 (e.g. 10), not {self.open_timeout}")
        if not 0 < self.call_idle_timeout <= 3600:
            raise TrustConfigError(
                f"ingest.call_idle_timeout must be 0 < s ≤ 3600 (e.g. 30), not {self.call_idle_timeout}"
            )
