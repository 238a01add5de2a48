"""The MQTT alert sink: drains the durable outbox to a broker with QoS 1, reconnecting with backoff on broker loss.

Topics: `<prefix>/alerts/<call_id>` (one message per finding: the finding JSON plus `type`, `wall_time`) and
`<prefix>/calls/<call_id>/score` (end-of-call score and report). A row is marked delivered only after its
PUBACK; after a reconnect the unacknowledged row is published again, so a subscriber may see a duplicate —
always with the same `finding_id` and the same payload. aiomqtt errors are translated at this boundary into
one log line per outage (not one per retry) and a metric; they never reach the caller.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiomqtt

from monitor.metrics import Metrics
from monitor.sinks.outbox import DeliveredCallback, OutboxSink, describe_error
from monitor.store.async_store import AsyncStore
from monitor.store.records import OutboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where and how to connect: parsed from `mqtt://[user[:password]@]host[:port]` (or `mqtts://` for TLS)."""

    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> BrokerSettings:
        """Parse a broker URL; a ValueError says what is wrong and what a valid URL looks like."""
        example = "expected mqtt://[user[:password]@]host[:port] or mqtts://…"
        parts = urlsplit(url)
        url = _without_password(url)  # error messages name the URL, never its password
        if parts.scheme not in ("mqtt", "mqtts", "tcp"):
            raise ValueError(f"MQTT broker URL {url!r}: unsupported scheme {parts.scheme!r}; {example}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"MQTT broker URL {url!r}: the port is not a number in 1..65535; {example}") from None
        if not parts.hostname:
            raise ValueError(f"MQTT broker URL {url!r}: no host; {example}")
        tls = parts.scheme == "mqtts"
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    def redacted_url(self) -> str:
        """The URL for logs (no password)."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def _without_password(url: str) -> str:
    """`url` with any password in its user part replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def check_topic_prefix(prefix: str) -> str:
    """`prefix` if usable as the first topic levels; a ValueError naming the problem otherwise."""
    if not prefix or prefix.startswith("/") or prefix.endswith("/") or any(c in prefix for c in "+#\x00"):
        raise ValueError(
            f"MQTT topic prefix {prefix!r} is invalid: it must be non-empty, must not start or end with '/' "
            "and must not contain '+', '#' or NUL (e.g. 'callwarden' or 'site1/callwarden')"
        )
    return prefix


class MqttAlertSink(OutboxSink):
    """Delivers outbox rows to an MQTT broker with QoS 1; use as `async with MqttAlertSink(store, url): …`."""

    name = "mqtt"

    def __init__(
        self,
        store: AsyncStore,
        broker_url: str,
        *,
        topic_prefix: str = "callwarden",
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        metrics: Metrics | None = None,
        on_delivered: DeliveredCallback | None = None,
        reconnect_min: float = 0.2,
        reconnect_max: float = 5.0,
        publish_timeout: float = 10.0,
        keepalive: int = 30,
        batch_size: int = 100,
        drain_timeout: float = 2.0,
    ) -> None:
        super().__init__(
            store, metrics=metrics, on_delivered=on_delivered, batch_size=batch_size, drain_timeout=drain_timeout
        )
        settings = BrokerSettings.from_url(broker_url)
        if username is not None or password is not None:
            settings = BrokerSettings(settings.host, settings.port, username, password, settings.tls)
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError(f"reconnect backoff must satisfy 0 < min ≤ max, got {reconnect_min} and {reconnect_max}")
        self.settings = settings
        self.topic_prefix = check_topic_prefix(topic_prefix)
        self._client_id = client_id
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._publish_timeout = publish_timeout
        self._keepalive = keepalive
        self._outage_since: float | None = None
        self.connected = False
        self.connections = 0
        """Successful connections so far (1 + reconnects)."""

    def topic(self, row: OutboxRow) -> str:
        """The full topic of an outbox row."""
        return f"{self.topic_prefix}/{row.topic}"

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=self._client_id,
            keepalive=self._keepalive,
            timeout=self._publish_timeout,
            tls_context=ssl.create_default_context() if s.tls else None,
        )

    async def _run(self) -> None:
        backoff = self._reconnect_min
        while True:
            try:
                async with self._client() as client:
                    self._on_connected()
                    backoff = self._reconnect_min
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                self._on_connection_error(exc)
            except Exception as exc:  # a store or programming error: keep the service alive, keep retrying
                self._on_connection_error(exc, unexpected=True)
            finally:
                self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._reconnect_max)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Deliver until the connection breaks (raises MqttError then). The deliverer and the connection watcher
        are one TaskGroup's tasks: the end or failure of either ends both, and the first error is re-raised as
        itself (a publish failure, the disconnect, or a store error for `_run` to report)."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch_until_closed(client), name="callwarden-mqtt-watch")
                group.create_task(self._deliver_forever(client), name="callwarden-mqtt-deliver")
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _deliver_forever(self, client: aiomqtt.Client) -> None:
        while True:
            await self._deliver_then_wait(client)

    async def _watch_until_closed(self, client: aiomqtt.Client) -> None:
        await self._watch(client)
        raise aiomqtt.MqttError("connection closed")

    async def _deliver_then_wait(self, client: aiomqtt.Client) -> None:
        async def publish(row: OutboxRow) -> None:
            await client.publish(self.topic(row), row.payload.encode(), qos=1, timeout=self._publish_timeout)

        await self.drain_once(publish)
        await self._wait_for_work()

    @staticmethod
    async def _watch(client: aiomqtt.Client) -> None:
        """Return/raise when the broker connection is gone (no subscriptions: the iterator only ends then)."""
        async for _ in client.messages:
            pass

    def _on_connected(self) -> None:
        self.connected = True
        self.connections += 1
        if self._outage_since is not None:
            log.warning(
                "MQTT broker %s reachable again after %.1f s; delivering queued alerts",
                self.settings.redacted_url(),
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None
        else:
            log.info("MQTT alert sink connected to %s", self.settings.redacted_url())
        self.notify()

    def _on_connection_error(self, exc: BaseException, *, unexpected: bool = False) -> None:
        if unexpected:  # not the broker: say what failed, with its traceback
            log.error("MQTT alert delivery failed (%s); retrying", describe_error(exc), exc_info=exc)
            return
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "MQTT broker %s unreachable (%s); alerts stay in the outbox, retrying every ≤ %.1f s",
                self.settings.redacted_url(),
                describe_error(exc),
                self._reconnect_max,
                exc_info=exc if unexpected else None,
            )
        else:
            log.debug("MQTT broker still unreachable: %s", describe_error(exc))
