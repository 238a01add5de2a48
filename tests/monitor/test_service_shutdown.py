"""Acceptance: SIGTERM during two live calls with no drain grace — both are stored `incomplete` with no score (a cut
call is never a pass), their findings reach MQTT, end_reason shutdown; exit 0. (The drain: test_service_drain.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from websockets.exceptions import ConnectionClosed

from evaluation.feeders import FeedLog, stream_twilio
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import REPO, card_call, get_json, http_get, subscriber

pytestmark = pytest.mark.slow
SIGTERM_AFTER = 12.0  # seconds into the calls: after the recording disclosure, before the card number


@asynccontextmanager
async def serve_process(config_file: Path, log_file: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`callwarden serve --config config_file` as a child process, ready (/readyz 200) when yielded."""
    port = yaml.safe_load(config_file.read_text())["port"]
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli.main", "serve", "--config", str(config_file)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        async with asyncio.timeout(120):
            while True:
                assert proc.poll() is None, f"callwarden serve exited early: {log_file.read_text()[-2000:]}"
                with contextlib.suppress(OSError):
                    status, _ = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/readyz", 1)
                    if status == 200:
                        break
                await asyncio.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def feed_until_closed(url: str, audio: Any, call_id: str) -> FeedLog | BaseException:
    try:
        return await stream_twilio(url, audio, call_id=call_id, speed=1.0)
    except (ConnectionClosed, OSError) as exc:  # the service closes the connection once the call is stored
        return exc


async def test_sigterm_during_two_live_calls_stores_both_incomplete(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    port = free_port()
    config_file = tmp_path / "callwarden.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "host": "127.0.0.1",
                "port": port,
                "data_dir": str(tmp_path / "data"),
                "model_path": str(vosk_model_path),
                "log_level": "INFO",
                "mqtt_url": mosquitto.url,
                "mqtt_topic_prefix": "sigterm-test",
                "drain_grace_seconds": 0,  # no drain: SIGTERM ends the calls at once (the drain deadline's path)
            }
        )
    )
    log_file = tmp_path / "serve.log"
    calls = {"CAsigterm0000000000000000000000001": card_call("5555555555554444", digit_voice="jackson", late=True)}
    calls["CAsigterm0000000000000000000000002"] = card_call("378282246310005", digit_voice="jackson", late=True)
    url = f"ws://127.0.0.1:{port}/ingest/twilio"

    async with (
        subscriber(mosquitto.host, mosquitto.port, "sigterm-test/#", client_id="sigterm-test") as received,
        serve_process(config_file, log_file) as proc,
    ):
        feeders = [asyncio.create_task(feed_until_closed(url, c.call.audio, cid)) for cid, c in calls.items()]
        await asyncio.sleep(SIGTERM_AFTER)
        assert not any(f.done() for f in feeders), "a feeder stopped before SIGTERM"
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(asyncio.to_thread(proc.wait), 60)
        exited_after = time.monotonic() - signalled
        outcomes = await asyncio.wait_for(asyncio.gather(*feeders), 30)
        await asyncio.sleep(1.0)  # the last QoS 1 messages reach the subscriber
    log = log_file.read_text()
    assert code == 0, f"exit code {code}; log tail:\n{log[-3000:]}"
    assert "Traceback" not in log, log[-4000:]
    print(f"\nSIGTERM → exit 0 in {exited_after:.2f} s; feeders ended with {[type(o).__name__ for o in outcomes]}")

    # A restarted service serves both reports (the start-up sweep must not mark them incomplete).
    async with serve_process(config_file, log_file):
        details = {cid: await get_json(f"http://127.0.0.1:{port}/api/calls/{cid}") for cid in calls}
    for cid, detail in details.items():
        call = detail["call"]
        assert (call["status"], call["end_reason"]) == ("incomplete", "shutdown"), call
        assert call["score"] is None and call["passed"] is None, call  # a cut call is never scored, never a pass
        assert detail["report"]["score"] is None and detail["report"]["passed"] is None, detail["report"]
        scores = [p for t, p, _ in received.messages if t == f"sigterm-test/calls/{cid}/score"]
        assert len(scores) == 1 and scores[0]["status"] == "incomplete" and scores[0]["score"] is None, scores
        delivered = {(p["rule_id"], p["outcome"]) for p, _ in received.findings(cid)}
        assert {(f["rule_id"], f["outcome"]) for f in detail["findings"]} <= delivered, (delivered, detail)
        assert ("disclosure.recording", "said") in delivered, delivered
        assert SIGTERM_AFTER - 2 < call["audio_seconds"] < calls[cid].call.duration - 5, call
        found = [(f["rule_id"], f["outcome"], f["start"]) for f in detail["findings"]]
        with sqlite3.connect(tmp_path / "data" / "callwarden.sqlite3") as conn:
            rows = conn.execute("SELECT channel, start FROM transcript WHERE call_id = ?", (cid,)).fetchall()
        shed = [line[-110:] for line in log.splitlines() if cid in line and " shed " in line]
        assert detail["transcript"], f"call {cid}: no transcript ({len(rows)} rows in SQLite); {call}; {found}; {shed}"
        outcomes_by_rule = {f["rule_id"]: f["outcome"] for f in detail["findings"]}
        assert outcomes_by_rule.get("disclosure.recording") == "said", outcomes_by_rule
        assert not any(f["outcome"] == "pan_detected" for f in detail["findings"])  # the card came after SIGTERM


async def test_a_second_signal_exits_at_once(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    port = free_port()
    config_file = tmp_path / "callwarden.yaml"
    config = {"host": "127.0.0.1", "port": port, "data_dir": str(tmp_path / "data"), "model_path": str(vosk_model_path)}
    config_file.write_text(yaml.safe_dump(config))
    sid = "CAsecondsignal000000000000000001"
    async with serve_process(config_file, tmp_path / "serve.log") as proc:
        feeder = asyncio.create_task(
            feed_until_closed(f"ws://127.0.0.1:{port}/ingest/twilio", card_call("5555555555554444").call.audio, sid)
        )
        await asyncio.sleep(4.0)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGINT)  # another signal: two pending SIGTERMs would be merged into one by the kernel
        code = await asyncio.wait_for(asyncio.to_thread(proc.wait), 30)
        exited_after = time.monotonic() - signalled
        await asyncio.wait_for(feeder, 30)
    print(f"\nSIGTERM then SIGINT → exit {code} in {exited_after:.2f} s")
    assert code == 130, code
    assert "second SIGINT while stopping" in (tmp_path / "serve.log").read_text()


async def endless_raw_call(url: str, call_id: str, audio: Any, connected: asyncio.Event) -> int | None:
    """A raw call that sends all its audio at once and never ends it: the close code the service finally sends."""
    from websockets.asyncio.client import connect

    try:
        async with connect(url, compression=None, max_size=None) as ws:
            start = {"type": "start", "call_id": call_id, "encoding": "pcm_s16le", "sample_rate": 8000,
                     "channels": [{"role": "agent"}, {"role": "customer"}]}  # fmt: skip
            await ws.send(json.dumps(start))
            for at in range(0, audio.shape[0], 8000):
                await ws.send(audio[at : at + 8000].tobytes())
            connected.set()
            await ws.wait_closed()
            return ws.close_code
    except (ConnectionClosed, OSError):
        return None


async def test_calls_still_running_after_the_shutdown_grace_are_cancelled_and_stored_incomplete(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    """Three calls whose audio (3 x 2 legs x ~40 s) waits for one decoding thread and whose peers never end them:
    SIGTERM ends them, but their recognition cannot finish within `shutdown_grace` (2 s). After the grace they are
    cancelled, the process exits promptly (0), and each call is stored `incomplete` with no score."""
    port = free_port()
    config = {"host": "127.0.0.1", "port": port, "data_dir": str(tmp_path / "data"), "model_path": str(vosk_model_path),
              "shutdown_grace": 2.0, "asr_threads": 1, "asr_overflow": "block", "asr_max_queued_seconds": 600.0,
              "max_asr_lag": 0.0, "log_level": "INFO",
              "drain_grace_seconds": 0}  # fmt: skip  # no drain first (its own tests): straight to the shutdown grace
    config_file = tmp_path / "callwarden.yaml"
    config_file.write_text(yaml.safe_dump(config))
    log_file = tmp_path / "serve.log"
    audio = card_call("5555555555554444", digit_voice="jackson", late=True).call.audio
    ids = [f"endless-{n}" for n in range(3)]
    async with serve_process(config_file, log_file) as proc:
        sent = [asyncio.Event() for _ in ids]
        url = f"ws://127.0.0.1:{port}/ingest/raw"
        peers = [asyncio.create_task(endless_raw_call(url, cid, audio, ev)) for cid, ev in zip(ids, sent, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in sent)), 60)
        await asyncio.sleep(1.0)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(asyncio.to_thread(proc.wait), 60)
        exited_after = time.monotonic() - signalled
        closes = await asyncio.wait_for(asyncio.gather(*peers), 30)
    log = log_file.read_text()
    print(f"\nSIGTERM, 3 calls' recognition pending → exit {code} after {exited_after:.1f} s; peers closed {closes}")
    assert code == 0, log[-3000:]
    assert closes == [1001, 1001, 1001], closes  # "service shutting down", not 1011
    assert "3 call(s) did not finish in 2 s; cancelling them" in log, log[-3000:]
    assert exited_after < 2.0 + 15.0, exited_after  # the grace, then cancellation: not the minutes of decoding left
    assert "Traceback" not in log, log[-4000:]
    async with serve_process(config_file, log_file):
        details = {cid: await get_json(f"http://127.0.0.1:{port}/api/calls/{cid}") for cid in ids}
    for cid, detail in details.items():
        call = detail["call"]
        assert call["status"] == "incomplete" and call["score"] is None and call["passed"] is None, (cid, call)
        assert call["end_reason"] == "shutdown", call  # marked as the process stopped, not at the next start
        assert call["audio_seconds"] < audio.shape[0] / 8000, call  # cut before its recognition finished
