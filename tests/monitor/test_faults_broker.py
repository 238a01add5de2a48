"""Fault: the MQTT broker is killed for a minute during 5 concurrent calls with findings — nothing is lost.

Every finding stored reaches a persistent-session QoS 1 subscriber after the broker restarts, per call in the
order the service queued them; a duplicate (redelivery after an unacknowledged publish) carries the same
finding id and the same payload. The outage length is CALLWARDEN_FAULT_OUTAGE_SECONDS (default 60).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import (
    TEST_CARDS,
    card_call,
    make_persistent,
    running_service,
    service_config,
    subscriber,
    wait_call_stored,
)

pytestmark = pytest.mark.slow
OUTAGE_SECONDS = float(os.environ.get("CALLWARDEN_FAULT_OUTAGE_SECONDS", "60"))
CALLS = 5
KILL_AFTER = 2.0  # seconds into the calls: before any card number


def queued_order(db: Path) -> dict[str, list[str]]:
    """Per call, the finding ids in the order the service queued them (outbox seq order)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT call_id, finding_id FROM outbox WHERE finding_id IS NOT NULL ORDER BY seq")
        order: dict[str, list[str]] = {}
        for call_id, finding_id in rows:
            order.setdefault(call_id, []).append(finding_id)
    return order


async def test_broker_killed_during_five_calls_delivers_every_finding_in_order(
    fresh_mosquitto: MosquittoBroker, vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    broker = fresh_mosquitto
    await asyncio.to_thread(make_persistent, broker)
    calls = {f"CAfault{uuid.uuid4().hex}": card_call(card, digit_voice="jackson") for card in TEST_CARDS[:CALLS]}
    prefix = f"cwfault-{uuid.uuid4().hex[:8]}"
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), broker.url, mqtt_topic_prefix=prefix)
    async with (
        subscriber(broker.host, broker.port, f"{prefix}/#", client_id=f"sub-{prefix}", persistent=True) as got,
        running_service(config) as base,
    ):
        url = f"ws://{base}/ingest/twilio"
        feeders = [asyncio.create_task(stream_twilio(url, c.call.audio, call_id=cid)) for cid, c in calls.items()]
        await asyncio.sleep(KILL_AFTER)
        if broker.proc is not None:
            broker.proc.kill()  # SIGKILL: no clean shutdown of the broker
        await asyncio.to_thread(broker.stop)
        down = time.time()
        await asyncio.gather(*feeders)
        details = {cid: await wait_call_stored(base, cid, timeout=120) for cid in calls}
        await asyncio.sleep(max(0.0, down + OUTAGE_SECONDS - time.time()))
        await asyncio.to_thread(broker.start)
        up = time.time()
        stored = {cid: {f["finding_id"] for f in d["findings"]} for cid, d in details.items()}
        await got.wait_until(
            lambda: all(ids <= {p["finding_id"] for p, _ in got.findings(cid)} for cid, ids in stored.items()), 90
        )
        caught_up = time.time() - up
    queued = queued_order(config.db_path)

    total = sum(len(ids) for ids in stored.values())
    during = sum(1 for d in details.values() for f in d["findings"] if down <= f["wall_time"] <= up)
    received = [p for p, _ in got.findings()]
    duplicates = len(received) - len({p["finding_id"] for p in received})
    pans = sum(any(f["outcome"] == "pan_detected" for f in d["findings"]) for d in details.values())
    print(
        f"\n{CALLS} calls, broker down {up - down:.1f} s: {total} findings stored ({during} raised during the outage, "
        f"{pans}/{CALLS} calls with pan_detected), {total} of {total} delivered, {duplicates} duplicate(s), "
        f"caught up {caught_up:.1f} s after the restart"
    )
    assert during >= CALLS, "findings were not raised during the outage: it tested nothing"
    first_payload: dict[str, object] = {}
    for payload in received:
        assert first_payload.setdefault(payload["finding_id"], payload) == payload, "a duplicate differs"
    for cid in calls:
        first_seen = list(dict.fromkeys(p["finding_id"] for p in (q for q, _ in got.findings(cid))))
        assert set(first_seen) == stored[cid], f"call {cid}: lost or unexpected findings"
        assert first_seen == queued[cid], f"call {cid}: findings delivered out of order"
