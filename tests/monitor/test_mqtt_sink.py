"""The MQTT alert sink against a real Mosquitto: QoS 1 payloads, latency with the broker up, surviving an outage."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from monitor.metrics import Metrics
from monitor.sinks.mqtt import BrokerSettings, MqttAlertSink, check_topic_prefix
from monitor.sinks.outbox import LogAlertSink
from monitor.store.async_store import AsyncStore
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.store_helpers import make_finding

T0 = 1_718_000_000.0
OUTAGE_SECONDS = float(os.environ.get("CALLWARDEN_TEST_OUTAGE_SECONDS", "5"))


@dataclass
class Received:
    """What a test subscriber got: (topic, payload dict, qos, receive wall time) in arrival order."""

    messages: list[tuple[str, dict[str, object], int, float]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)

    def finding_ids(self) -> list[str]:
        return [str(p["finding_id"]) for _, p, _, _ in self.messages if p.get("type") == "finding"]

    async def wait_for(self, finding_ids: set[str], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not finding_ids <= set(self.finding_ids()):
                await asyncio.sleep(0.02)


@asynccontextmanager
async def subscriber(broker: MosquittoBroker, prefix: str, *, persistent: bool = False) -> AsyncIterator[Received]:
    """Subscribes `prefix/#` at QoS 1 and keeps collecting, reconnecting (same session when persistent)."""
    got = Received()

    async def run() -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    broker.host,
                    broker.port,
                    identifier=f"sub-{prefix}",
                    clean_session=False if persistent else None,
                ) as client:
                    await client.subscribe(f"{prefix}/#", qos=1)
                    got.subscribed.set()
                    async for m in client.messages:
                        assert isinstance(m.payload, bytes)
                        got.messages.append((str(m.topic), json.loads(m.payload), m.qos, time.time()))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.05)

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(10):
            await got.subscribed.wait()
        yield got
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture()
async def astore(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    async with await AsyncStore.open(tmp_path / "cw.sqlite3") as s:
        yield s


def prefix() -> str:
    return f"cwtest-{uuid.uuid4().hex[:8]}"


async def test_delivers_findings_and_scores_with_qos1(mosquitto: MosquittoBroker, astore: AsyncStore) -> None:
    p = prefix()
    metrics = Metrics()
    handoffs: list[tuple[str, float]] = []
    for call in ("call-a", "call/b"):
        await astore.call_started(call, protocol="twilio", started_wall=T0)
    # Rows enqueued before the sink starts (a previous run's leftovers) go out first.
    early = await astore.add_findings([make_finding("call-a", 0)], wall_time=T0 + 1)
    async with subscriber(mosquitto, p) as got:
        sink = MqttAlertSink(
            astore, mosquitto.url, topic_prefix=p, metrics=metrics, on_delivered=lambda f, t: handoffs.append((f, t))
        )
        async with sink:
            await astore.add_findings([make_finding("call/b", 0), make_finding("call-a", 1)], wall_time=T0 + 2)
            await astore.call_ended(
                "call-a", ended_wall=T0 + 3, audio_seconds=3.0, report={"score": 55, "passed": False}
            )
            expected = {"call-a:pci.pan-spoken:0", "call-a:pci.pan-spoken:1", "call/b:pci.pan-spoken:0"}
            await got.wait_for(expected, timeout=10)
            async with asyncio.timeout(10):
                while not any(t.endswith("/score") for t, *_ in got.messages):
                    await asyncio.sleep(0.02)
        assert sink.delivered == 4
    assert len(early) == 1
    topics = [t for t, *_ in got.messages]
    assert topics == [f"{p}/alerts/call-a", f"{p}/alerts/call%2Fb", f"{p}/alerts/call-a", f"{p}/calls/call-a/score"]
    assert all(qos == 1 for _, _, qos, _ in got.messages)
    first = got.messages[0][1]
    assert first == {"type": "finding", **make_finding("call-a", 0).to_json(), "wall_time": T0 + 1}
    assert got.messages[1][1]["call_id"] == "call/b"
    score = got.messages[3][1]
    assert (score["type"], score["score"], score["passed"]) == ("score", 55, False)
    assert [f for f, _ in handoffs] == got.finding_ids()
    assert all(abs(t - time.time()) < 30 for _, t in handoffs)
    assert await astore.outbox_depth() == 0
    body = metrics.render()[0].decode()
    assert 'callwarden_alert_deliveries_total{outcome="delivered",sink="mqtt"} 4.0' in body
    assert "callwarden_outbox_depth 0.0" in body


async def test_delivery_latency_with_broker_up(mosquitto: MosquittoBroker, astore: AsyncStore) -> None:
    """Enqueue → subscriber receipt, one finding at a time; the product promises alerts within a second."""
    p = prefix()
    await astore.call_started("lat", protocol="native", started_wall=T0)
    enqueued: dict[str, float] = {}
    handoff: dict[str, float] = {}
    sink = MqttAlertSink(astore, mosquitto.url, topic_prefix=p, on_delivered=handoff.__setitem__)
    async with subscriber(mosquitto, p) as got, sink:
        for i in range(40):
            f = make_finding("lat", i)
            enqueued[f.finding_id] = time.time()
            await astore.add_findings([f])
            await got.wait_for({f.finding_id}, timeout=5)
    received = {str(pl["finding_id"]): t for _, pl, _, t in got.messages}
    to_subscriber = sorted(received[k] - enqueued[k] for k in enqueued)
    to_handoff = sorted(handoff[k] - enqueued[k] for k in enqueued)
    p50, p95 = statistics.median(to_subscriber), to_subscriber[int(0.95 * len(to_subscriber)) - 1]
    print(
        f"\nMQTT delivery latency (enqueue→subscriber) over {len(to_subscriber)} findings: "
        f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {to_subscriber[-1] * 1000:.1f} ms; "
        f"enqueue→PUBACK handoff p50 {statistics.median(to_handoff) * 1000:.1f} ms"
    )
    assert p95 < 1.0


def persistent_broker(broker: MosquittoBroker) -> None:
    """Restart `broker` with persistence on, so a subscriber's QoS 1 session survives the outage we cause."""
    broker.stop()
    db_dir = broker.workdir / "mosquitto-db"
    db_dir.mkdir(exist_ok=True)
    broker.conf.write_text(
        f"listener {broker.port} 127.0.0.1\nallow_anonymous true\n"
        f"persistence true\npersistence_location {db_dir}/\nautosave_interval 1\n"
    )
    broker.start()


async def test_broker_outage_loses_nothing_and_keeps_order(
    fresh_mosquitto: MosquittoBroker, astore: AsyncStore, caplog: pytest.LogCaptureFixture
) -> None:
    broker = fresh_mosquitto
    await asyncio.to_thread(persistent_broker, broker)
    p = prefix()
    calls = ["o1", "o2", "o3"]
    order: dict[str, list[str]] = {c: [] for c in calls}
    for c in calls:
        await astore.call_started(c, protocol="twilio", started_wall=T0)

    async def enqueue(c: str, n: int) -> None:
        f = make_finding(c, n)
        order[c].append(f.finding_id)
        await astore.add_findings([f])

    caplog.set_level(logging.DEBUG, logger="monitor.sinks.mqtt")
    async with subscriber(broker, p, persistent=True) as got:
        sink = MqttAlertSink(astore, broker.url, topic_prefix=p, reconnect_min=0.1, reconnect_max=1.0)
        async with sink:
            for n in range(3):
                for c in calls:
                    await enqueue(c, n)
            await got.wait_for({f for ids in order.values() for f in ids}, timeout=10)

            # A burst still in flight when the broker dies: some rows may be published but not PUBACKed.
            for n in range(3, 13):
                for c in calls:
                    await enqueue(c, n)
            await asyncio.to_thread(broker.stop)
            for n in range(13, 17):
                for c in calls:
                    await enqueue(c, n)
            await astore.call_ended("o2", ended_wall=T0 + 9, audio_seconds=9, report={"score": 10, "passed": False})
            await asyncio.sleep(OUTAGE_SECONDS)
            assert not sink.connected
            assert await astore.outbox_depth() >= 13  # ≥ 12 findings + 1 score wait in the durable outbox
            await asyncio.to_thread(broker.start)
            await got.wait_for({f for ids in order.values() for f in ids}, timeout=30)
            async with asyncio.timeout(10):
                while await astore.outbox_depth():
                    await asyncio.sleep(0.05)
        assert sink.connections >= 2

    by_id: dict[str, dict[str, object]] = {}
    for _, payload, qos, _ in got.messages:
        assert qos == 1
        if payload["type"] == "finding":
            fid = str(payload["finding_id"])
            assert by_id.setdefault(fid, payload) == payload  # a duplicate is the same message, same finding_id
    for c in calls:
        arrivals = [
            str(pl["finding_id"]) for _, pl, _, _ in got.messages if pl["call_id"] == c and pl["type"] == "finding"
        ]
        first_seen = list(dict.fromkeys(arrivals))
        assert first_seen == order[c], f"call {c}: out of order"
    duplicates = len(got.finding_ids()) - len(by_id)
    unreachable = [r for r in caplog.records if "unreachable (" in r.getMessage()]
    print(
        f"\noutage {OUTAGE_SECONDS:.1f} s: {len(by_id)} findings delivered, {duplicates} duplicate(s), "
        f"{sink.connections} connections, {len(unreachable)} outage warning(s), "
        f"{len([r for r in caplog.records if 'still unreachable' in r.getMessage()])} quiet retries"
    )
    assert len(by_id) == 3 * 17
    assert len(unreachable) == 1  # logged once per outage, not per retry
    assert any("reachable again" in r.getMessage() for r in caplog.records)


async def test_log_sink_drains_without_a_broker(astore: AsyncStore, caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    delivered: list[str] = []
    await astore.call_started("l1", protocol="native", started_wall=T0)
    caplog.set_level(logging.INFO, logger="monitor.sinks.outbox")
    async with LogAlertSink(astore, metrics=metrics, on_delivered=lambda f, _t: delivered.append(f)) as sink:
        await astore.add_findings([make_finding("l1", 0, evidence="card [card ending 1111]")])
        await astore.call_ended("l1", ended_wall=T0 + 1, audio_seconds=1, report={"score": 0, "passed": False})
        async with asyncio.timeout(5):
            await sink.wait_idle()
    assert delivered == ["l1:pci.pan-spoken:0"]
    assert await astore.outbox_depth() == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "monitor.sinks.outbox"]
    assert any("rule=pci.pan-spoken severity=critical" in line for line in lines)
    assert any("call l1 scored 0" in line for line in lines)
    assert not any("card ending" in line for line in lines)  # evidence stays out of logs
    assert 'callwarden_alert_deliveries_total{outcome="logged",sink="log"} 2.0' in metrics.render()[0].decode()


def test_broker_url_parsing() -> None:
    s = BrokerSettings.from_url("mqtt://alice:s%40cret@broker.local:1884")
    assert (s.host, s.port, s.username, s.password, s.tls) == ("broker.local", 1884, "alice", "s@cret", False)
    assert s.redacted_url() == "mqtt://alice@broker.local:1884"
    assert BrokerSettings.from_url("mqtts://b").port == 8883
    assert BrokerSettings.from_url("mqtt://127.0.0.1").port == 1883
    with pytest.raises(ValueError, match="unsupported scheme 'http'"):
        BrokerSettings.from_url("http://b:1883")
    with pytest.raises(ValueError, match="no host"):
        BrokerSettings.from_url("mqtt://:1883")
    with pytest.raises(ValueError, match="port"):
        BrokerSettings.from_url("mqtt://b:notaport")
    assert check_topic_prefix("site1/callwarden") == "site1/callwarden"
    for bad in ("", "cw/", "/cw", "cw/#", "c+w"):
        with pytest.raises(ValueError, match="topic prefix"):
            check_topic_prefix(bad)


async def test_closing_while_the_broker_is_down_keeps_rows_and_does_not_hang(astore: AsyncStore) -> None:
    await astore.call_started("d1", protocol="native", started_wall=T0)
    sink = MqttAlertSink(
        astore, f"mqtt://127.0.0.1:{free_port()}", reconnect_min=0.05, reconnect_max=0.2, drain_timeout=0.5
    )
    started = time.monotonic()
    async with sink:
        await astore.add_findings([make_finding("d1", i) for i in range(3)])
        await asyncio.sleep(0.3)
        assert not sink.connected
    assert time.monotonic() - started < 3.0
    rows = await astore.pending_outbox()
    assert [r.finding_id for r in rows] == [f"d1:pci.pan-spoken:{i}" for i in range(3)]
    assert sink.delivered == 0


async def test_the_sink_owns_its_tasks_and_leaves_none_behind(mosquitto: MosquittoBroker, astore: AsyncStore) -> None:
    """The deliverer and the connection watcher belong to one TaskGroup inside the sink's own: closing the sink
    while connected and delivering ends every one of them."""
    sink = MqttAlertSink(astore, mosquitto.url, topic_prefix=prefix(), metrics=Metrics())
    async with sink:
        async with asyncio.timeout(10):
            while not sink.connected:
                await asyncio.sleep(0.02)
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert {"callwarden-mqtt-watch", "callwarden-mqtt-deliver"} <= names
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("callwarden-mqtt")]
