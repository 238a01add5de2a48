"""Acceptance: the MQTT broker is down for a stretch of a live call — every finding still arrives, in order."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import (
    card_call,
    make_persistent,
    running_service,
    service_config,
    subscriber,
    wait_call_stored,
)

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = float(os.environ.get("CALLWARDEN_SERVICE_OUTAGE_SECONDS", "30"))
STOP_AFTER = 2.0  # seconds into the call


def outbox_order(db: Path, call_id: str) -> list[str]:
    """The order the service queued the call's messages in (finding ids; "score" for the score message)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT finding_id FROM outbox WHERE call_id = ? ORDER BY seq", (call_id,)).fetchall()
    return [r[0] or "score" for r in rows]


async def test_broker_outage_during_a_call_loses_no_finding(
    fresh_mosquitto: MosquittoBroker,
    vosk_model_path: Path,
    espeak: str,
    shared_data: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = fresh_mosquitto
    await asyncio.to_thread(make_persistent, broker)
    caplog.set_level(logging.INFO, logger="monitor.sinks.mqtt")
    call = card_call("5555555555554444", digit_voice="jackson")
    prefix = f"cwtest-{uuid.uuid4().hex[:8]}"
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), broker.url, mqtt_topic_prefix=prefix)
    # A persistent session (clean_session=False, QoS 1) on a broker that persists it: messages published while
    # this subscriber is still reconnecting after the restart are kept for it.
    async with (
        subscriber(broker.host, broker.port, f"{prefix}/#", client_id=f"sub-{prefix}", persistent=True) as got,
        running_service(config) as base,
    ):
        feeder = asyncio.create_task(stream_twilio(f"ws://{base}/ingest/twilio", call.call.audio, speed=1.0))
        await asyncio.sleep(STOP_AFTER)
        await asyncio.to_thread(broker.stop)
        down_wall = time.time()
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(broker.start)
        up_wall = time.time()
        feed = await feeder
        detail = await wait_call_stored(base, feed.call_id)
        stored = [f["finding_id"] for f in detail["findings"]]
        score_topic = f"{prefix}/calls/{feed.call_id}/score"
        await got.wait_until(
            lambda: (
                set(stored) <= {p["finding_id"] for p, _ in got.findings(feed.call_id)}
                and any(t == score_topic for t, _, _ in got.messages)
            ),
            60,
        )
        caught_up = time.time()
    queued = outbox_order(config.db_path, feed.call_id)

    received = [p for p, _ in got.findings(feed.call_id)]
    by_id: dict[str, object] = {}
    for payload in received:
        assert by_id.setdefault(payload["finding_id"], payload) == payload, "a duplicate differs from the original"
    first_seen = list(dict.fromkeys(p["finding_id"] for p in received))
    arrivals = [p.get("finding_id", "score") for t, p, _ in got.messages if feed.call_id in t]
    during = [f for f in detail["findings"] if down_wall <= f["wall_time"] <= up_wall]
    outcomes = sorted({f["outcome"] for f in detail["findings"]})
    print(
        f"\nbroker down {up_wall - down_wall:.1f} s: {len(stored)} findings stored ({len(during)} raised during the "
        f"outage; outcomes {outcomes}), {len(by_id)} delivered, {len(received) - len(by_id)} duplicate(s), all "
        f"caught up {caught_up - up_wall:.1f} s after the restart; subscriber connections {got.connections}"
    )
    assert set(first_seen) == set(stored), "lost or unexpected findings"
    assert first_seen == [q for q in queued if q != "score"], "findings delivered out of order"
    assert list(dict.fromkeys(arrivals)) == queued, "the score overtook a finding (or vice versa)"
    assert during, "no finding was raised while the broker was down: the outage did not test anything"
    assert "pan_detected" in outcomes, detail["transcript"]
    messages = [r.getMessage() for r in caplog.records if r.name == "monitor.sinks.mqtt"]
    assert sum("unreachable (" in m for m in messages) == 1, messages  # one warning per outage, not per retry
    assert any("reachable again" in m for m in messages), messages
