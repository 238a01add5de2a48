"""Faults: the disk fills up mid-call, and the data directory is unwritable at start-up.

Full disk (a small tmpfs we fill, so SQLite gets SQLITE_FULL for real): the call is still transcribed and
evaluated, its alerts and score still reach MQTT and /live (held in memory, not in the outbox), the log says
once and loudly what failed and how to fix it, /metrics counts the failures, /readyz reports not ready until
space is freed and then recovers, and the database stays intact.

Unwritable data directory at start-up (a read-only tmpfs): `callwarden serve` fails fast, exit code 4, with one
line naming the path (decision documented in docs/operations.md: no degraded start without storage).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.faults_support import fill_disk, tmpfs
from tests.monitor.service_harness import REPO, card_call, http_get, running_service, service_config, subscriber
from tests.monitor.test_pci_scan import live_client

pytestmark = pytest.mark.slow
FILL_AFTER = 3.0  # seconds into the call: before the card number


def metric(body: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(name))


async def get(url: str) -> tuple[int, str]:
    try:
        return await asyncio.to_thread(http_get, url)
    except OSError as exc:  # urllib raises HTTPError (an OSError) for 4xx/5xx
        code = getattr(exc, "code", 0)
        body = exc.read().decode() if hasattr(exc, "read") else str(exc)
        return int(code), body


async def test_full_disk_mid_call_still_monitors_and_alerts(
    mosquitto: MosquittoBroker,
    vosk_model_path: Path,
    espeak: str,
    shared_data: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="callwarden.storage")
    call = card_call("5555555555554444", digit_voice="jackson")
    call_id, prefix = f"CAfull{uuid.uuid4().hex}", f"cwfull-{uuid.uuid4().hex[:8]}"
    with tmpfs(tmp_path / "disk", "4m") as disk:
        config = service_config(disk / "data", vosk_model_path, free_port(), mosquitto.url, mqtt_topic_prefix=prefix)
        async with (
            subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
            running_service(config) as base,
            live_client(f"ws://{base}/live") as live,
        ):
            feeder = asyncio.create_task(stream_twilio(f"ws://{base}/ingest/twilio", call.call.audio, call_id=call_id))
            await asyncio.sleep(FILL_AFTER)
            filler = await asyncio.to_thread(fill_disk, disk)
            await feeder
            score_topic = f"{prefix}/calls/{call_id}/score"
            await got.wait_until(lambda: any(t == score_topic for t, _, _ in got.messages), 60)
            alerts = sorted({p["outcome"] for p, _ in got.findings(call_id)})
            ready_full = await get(f"http://{base}/readyz")
            metrics_full = (await get(f"http://{base}/metrics"))[1]
            filler.unlink()
            async with asyncio.timeout(10):
                while (ready_after := await get(f"http://{base}/readyz"))[0] != 200:
                    await asyncio.sleep(0.2)
            metrics_after = (await get(f"http://{base}/metrics"))[1]
        live_findings = [m for m in live if '"type": "finding"' in m and call_id in m]
        with sqlite3.connect(config.db_path) as conn:
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    failing = [r for r in caplog.records if r.name == "callwarden.storage" and r.levelno >= logging.ERROR]
    errors = metric(metrics_full, "callwarden_storage_errors_total")
    print(
        f"\ndisk full {FILL_AFTER:.0f} s into the call: MQTT alerts {alerts} + score; {len(live_findings)} /live "
        f"finding(s); {errors:.0f} failed write(s) counted; /readyz while full {ready_full[0]} "
        f"({ready_full[1].strip()}), after freeing {ready_after[0]}; fallback depth after "
        f"{metric(metrics_after, 'callwarden_fallback_outbox_depth')}"
        f"; integrity {integrity}\nlog: {failing[0].getMessage() if failing else None}"
    )
    assert "pan_detected" in alerts, f"the card number was not alerted with the disk full: {alerts}"
    assert any('"pan_detected"' in m for m in live_findings), "no pan_detected finding on /live"
    assert errors > 0, "no storage failure was counted: the disk was not full for the service"
    assert len(failing) == 1, [r.getMessage() for r in failing]  # once per outage, not per write
    message = failing[0].getMessage()
    assert "database or disk is full" in message and str(config.data_dir) in message, message
    assert ready_full[0] == 503 and "storage" in ready_full[1], ready_full
    assert metric(metrics_after, "callwarden_fallback_outbox_depth") == 0
    assert integrity == ["ok"]


@pytest.mark.parametrize("layout", ["data dir is read-only", "parent is read-only"])
def test_unwritable_data_dir_fails_fast_naming_the_path(layout: str, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as ro:
        data_dir = ro if layout == "data dir is read-only" else ro / "callwarden"
        serve = [sys.executable, "-m", "monitor.cli.main", "serve"]
        done = subprocess.run(
            [*serve, "--data-dir", str(data_dir), "--port", str(free_port())],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    print(f"\n{layout}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    assert done.returncode == 4, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert str(data_dir) in done.stderr and "storage error" in done.stderr, done.stderr
