"""One live view across replicas: the /live hub's events go over the MQTT broker to every other replica's hub.

Each replica publishes what its own calls produce (call start/end, transcript lines, findings, acknowledgements,
clock ticks — already redacted: the same messages its /live dashboards get) on `<prefix>/live/<replica id>` and
subscribes to `<prefix>/live/+`; a message from another replica is published into the local hub as if it were
local (never sent on again: the origin is in the envelope). So any replica's dashboard and /live show every call;
the history (`/api/calls`) comes from the shared PostgreSQL store. Live events are QoS 0 (a dashboard misses a line
rather than replays it late); alerts keep their own QoS 1 outbox (monitor/sinks/mqtt.py). The outgoing queue is
bounded: when the broker is slow or away, the oldest live events are dropped and counted, never awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt

from monitor.sinks.live import LiveHub
from monitor.sinks.mqtt import BrokerSettings, check_topic_prefix

log = logging.getLogger("callwarden.live_bridge")
QUEUE_LIMIT = 5000
RECONNECT_SECONDS = 1.0


class LiveBridge:
    """Bridges `hub` to the other replicas through the broker at `url` (see the module docstring)."""

    def __init__(self, hub: LiveHub, url: str, *, topic_prefix: str, replica_id: str) -> None:
        self.hub = hub
        self.settings = BrokerSettings.from_url(url)
        self.replica_id = replica_id
        self.topic_root = f"{check_topic_prefix(topic_prefix)}/live"
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = 0
        self.received = 0
        self.connected = asyncio.Event()

    def forward(self, message: dict[str, Any]) -> None:
        """Queue one local live message for the other replicas (drops the oldest when the queue is full)."""
        text = json.dumps({"origin": self.replica_id, "message": message}, separators=(",", ":"))
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(text)

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            s.host, s.port, username=s.username, password=s.password, keepalive=10,
            identifier=f"callwarden-live-{self.replica_id}"[:64],
            tls_context=ssl.create_default_context() if s.tls else None,
        )  # fmt: skip

    async def run(self) -> None:
        """Connect, publish and receive until cancelled; reconnect after a broker loss."""
        while True:
            try:
                async with self._client() as client:
                    await client.subscribe(f"{self.topic_root}/+", qos=0)
                    self.connected.set()
                    log.info("live bridge connected to %s as replica %s", self.settings.redacted_url(), self.replica_id)
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._publish(client))
                        group.create_task(self._receive(client))
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning("live bridge: broker %s: %s; reconnecting", self.settings.redacted_url(), exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _publish(self, client: aiomqtt.Client) -> None:
        topic = f"{self.topic_root}/{self.replica_id}"
        while True:
            text = await self._queue.get()
            await client.publish(topic, text, qos=0)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            try:
                envelope = json.loads(bytes(m.payload) if isinstance(m.payload, bytes | bytearray) else b"")
                origin, message = envelope["origin"], envelope["message"]
            except (ValueError, KeyError, TypeError):
                log.warning("live bridge: ignored a malformed message on %s", m.topic)
                continue
            if origin == self.replica_id or not isinstance(message, dict):
                continue
            self.received += 1
            self.hub.publish(message, remote=True)


@contextlib.asynccontextmanager
async def live_bridge(hub: LiveHub, url: str, *, topic_prefix: str, replica_id: str) -> AsyncIterator[LiveBridge]:
    """Run a LiveBridge for the service's lifetime; the hub forwards its local messages to it meanwhile."""
    bridge = LiveBridge(hub, url, topic_prefix=topic_prefix, replica_id=replica_id)
    hub.forward = bridge.forward
    task = asyncio.create_task(bridge.run(), name="callwarden live bridge")
    try:
        yield bridge
    finally:
        hub.forward = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
