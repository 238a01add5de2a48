"""Fault: `callwarden serve` is SIGKILLed mid-call while its broker is down, then restarted.

After the kill the database passes `PRAGMA integrity_check`; on restart the interrupted call is marked
incomplete, and the alerts that were still in the outbox when the process died reach the broker.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import card_call, get_json, make_persistent, subscriber
from tests.monitor.test_service_shutdown import feed_until_closed, serve_process

pytestmark = pytest.mark.slow
BROKER_DOWN_AFTER = 2.0  # seconds into the call


def pending_findings(db: Path, call_id: str) -> list[tuple[str, str]]:
    """(finding_id, outcome) of the call's undelivered finding alerts, in queue order (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute(
            "SELECT o.finding_id, f.outcome FROM outbox o JOIN findings f USING (finding_id) "
            "WHERE o.call_id = ? AND o.delivered_wall IS NULL ORDER BY o.seq",
            (call_id,),
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def integrity(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]


async def test_sigkill_mid_call_keeps_the_database_and_the_pending_alerts(
    fresh_mosquitto: MosquittoBroker, vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    broker = fresh_mosquitto
    await asyncio.to_thread(make_persistent, broker)
    port, prefix = free_port(), f"cwkill-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    config_file = tmp_path / "callwarden.yaml"
    settings = {"host": "127.0.0.1", "port": port, "data_dir": str(data_dir), "model_path": str(vosk_model_path)}
    settings |= {"mqtt_url": broker.url, "mqtt_topic_prefix": prefix, "log_level": "INFO"}
    config_file.write_text(yaml.safe_dump(settings))
    db = data_dir / "callwarden.sqlite3"
    log_file = tmp_path / "serve.log"
    call_id = f"CAkill{uuid.uuid4().hex}"
    call = card_call("5555555555554444", digit_voice="jackson", late=True)

    async with subscriber(broker.host, broker.port, f"{prefix}/#", client_id=f"sub-{prefix}", persistent=True) as got:
        async with serve_process(config_file, log_file) as proc:
            feeder = asyncio.create_task(
                feed_until_closed(f"ws://127.0.0.1:{port}/ingest/twilio", call.call.audio, call_id)
            )
            await asyncio.sleep(BROKER_DOWN_AFTER)
            await asyncio.to_thread(broker.stop)
            async with asyncio.timeout(call.call.duration):
                while not any(o == "pan_detected" for _, o in pending_findings(db, call_id)):
                    await asyncio.sleep(0.2)
            assert not feeder.done(), "the call ended before the kill: it would not be mid-call"
            proc.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await asyncio.to_thread(proc.wait)
        await asyncio.wait_for(feeder, 30)
        problems = integrity(db)
        pending = pending_findings(db, call_id)
        await asyncio.to_thread(broker.start)
        async with serve_process(config_file, log_file):
            restarted = time.monotonic() - killed_at
            detail = await get_json(f"http://127.0.0.1:{port}/api/calls/{call_id}")
            wanted = {fid for fid, _ in pending}
            await got.wait_until(lambda: wanted <= {p["finding_id"] for p, _ in got.findings(call_id)}, 30)
            delivered_after = time.monotonic() - killed_at
            left = pending_findings(db, call_id)

    print(
        f"\nSIGKILL mid-call with {len(pending)} alert(s) pending ({sorted({o for _, o in pending})}); integrity "
        f"{problems}; restarted and ready {restarted:.1f} s after the kill; pending alerts on the broker "
        f"{delivered_after:.1f} s after the kill; call {detail['call']['status']} ({detail['call']['end_reason']})"
    )
    assert problems == ["ok"], problems
    assert (detail["call"]["status"], detail["call"]["end_reason"]) == ("incomplete", "service-restart")
    assert pending, "no alert was pending at the kill: the test tested nothing"
    received = [p["finding_id"] for p, _ in got.findings(call_id)]
    assert [f for f in dict.fromkeys(received) if f in wanted] == [fid for fid, _ in pending], "out of order"
    assert left == [], f"alerts still undelivered after the restart: {left}"
