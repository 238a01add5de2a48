"""Hostile-input guards of the network front: per-connection token buckets, per-address connection caps, TLS."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection

from monitor.config.ingest import IngestConfig, TlsConfig

log = logging.getLogger("callwarden.guard")
REFUSAL_LOG_INTERVAL = 10.0  # at most one "too many connections" line per address per this many seconds


class TokenBucket:
    """`rate` tokens per second up to `capacity`; take() spends them or reports an overdraft."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def take(self, amount: float, now: float) -> bool:
        """Spend `amount` tokens; False (nothing spent) when the bucket holds fewer."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


class RateLimiter:
    """Messages/s and bytes/s limits of one connection; None when unlimited (0)."""

    def __init__(self, config: IngestConfig, now: float | None = None) -> None:
        start = time.monotonic() if now is None else now
        burst = config.rate_burst_seconds
        self._messages = self._bucket(config.max_messages_per_second, burst, start, minimum=1.0)
        self._bytes = self._bucket(config.max_bytes_per_second, burst, start, minimum=0.0)

    @staticmethod
    def _bucket(rate: float, burst: float, now: float, minimum: float) -> TokenBucket | None:
        return TokenBucket(rate, max(rate * burst, minimum), now) if rate > 0 else None

    def admit(self, size: int, now: float | None = None) -> str | None:
        """None when a message of `size` bytes fits the limits now, else the close reason."""
        at = time.monotonic() if now is None else now
        if self._messages is not None and not self._messages.take(1, at):
            return f"rate limit: over {self._messages.rate:g} messages/s"
        if self._bytes is not None and not self._bytes.take(size, at):
            return f"rate limit: over {self._bytes.rate:g} bytes/s"
        return None


class AddressCounter:
    """Open TCP connections per remote address, with a cap (0 = none)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: Counter[str] = Counter()
        self._last_logged: dict[str, float] = {}

    def add(self, address: str) -> bool:
        """Count a new connection; False when it is over the cap (the caller drops it; remove() still follows)."""
        self.open[address] += 1
        if not self.limit or self.open[address] <= self.limit:
            return True
        now = time.monotonic()
        if now - self._last_logged.get(address, -REFUSAL_LOG_INTERVAL) >= REFUSAL_LOG_INTERVAL:
            self._last_logged[address] = now
            log.warning("dropping connection from %s: over %d concurrent connections", address, self.limit)
        return False

    def remove(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


def guarded_connection_class(counter: AddressCounter) -> type[ServerConnection]:
    """A ServerConnection that counts itself per remote address and aborts when its address is over the cap."""

    class GuardedConnection(ServerConnection):
        _counted: str | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            peer: Any = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
            self._counted = address
            if not counter.add(address):
                self.transport.abort()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._counted is not None:
                counter.remove(self._counted)
                self._counted = None
            super().connection_lost(exc)

    return GuardedConnection


def tls_context(config: TlsConfig) -> ssl.SSLContext | None:
    """A server TLS context (TLS ≥ 1.2) from the configured PEM files, or None when TLS is off."""
    if not config.enabled:
        return None
    for name, value in (("tls.cert", config.cert), ("tls.key", config.key)):
        if not Path(value).is_file():
            raise FileNotFoundError(f"{name}: no such file {value!r} (a PEM file readable by the service)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.cert, config.key)
    except ssl.SSLError as error:
        raise ValueError(f"tls.cert/tls.key: cannot load the certificate and key ({error.reason})") from None
    return context
