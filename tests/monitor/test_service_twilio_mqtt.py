"""Acceptance: a Twilio Media Streams call at real-time pace → the PAN alert on MQTT, with speech-to-alert latency."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.feeders import stream_twilio
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import (
    card_call,
    get_json,
    http_get,
    running_service,
    service_config,
    subscriber,
)

pytestmark = pytest.mark.slow
MAX_LATENCY = float(os.environ.get("CALLWARDEN_TEST_MAX_ALERT_LATENCY", "15"))
"""A gross-regression bound only (the machine may be shared); bench/alert_latency.py measures the distribution."""
CARD = "378282246310005"  # Amex test number; the FSDD voice "lucas" reads it as one utterance Vosk gets right


def histogram_count(metrics_text: str, name: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == f"{name}_count":
                return float(sample.value)
    raise AssertionError(f"{name}_count not in /metrics")


async def test_twilio_call_pan_alert_reaches_mqtt_subscriber(
    mosquitto: MosquittoBroker,
    vosk_model_path: Path,
    espeak: str,
    shared_data: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    call = card_call(CARD, digit_voice="lucas")
    prefix = f"cwtest-{uuid.uuid4().hex[:8]}"
    config = service_config(tmp_path, vosk_model_path, free_port(), mosquitto.url, mqtt_topic_prefix=prefix)
    async with (
        running_service(config) as base,
        subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
    ):
        feed = await stream_twilio(f"ws://{base}/ingest/twilio", call.call.audio, speed=1.0)
        await got.wait_until(lambda: any(t.endswith(f"/calls/{feed.call_id}/score") for t, _, _ in got.messages), 60)
        detail = await get_json(f"http://{base}/api/calls/{feed.call_id}")
        _, metrics_text = await asyncio.to_thread(http_get, f"http://{base}/metrics")

    transcript = [f"[{t['start']:.2f}] {t['speaker']}: {t['text']}" for t in detail["transcript"]]
    alert = got.first(feed.call_id, "pan_detected")
    assert alert is not None, (
        f"no pan_detected alert for {CARD} read by lucas (digits end at {call.last_digit_end:.2f} s); "
        f"stored transcript: {transcript}; alerts: {[p['outcome'] for p, _ in got.findings(feed.call_id)]}"
    )
    payload, received_wall = alert
    sent_wall = feed.wall_when_sent(call.last_digit_end)
    assert sent_wall is not None
    latency = received_wall - sent_wall
    record_property("speech_to_alert_seconds", round(latency, 3))
    print(f"\nspeech-to-alert (last digit sent → MQTT subscriber): {latency * 1000:.0f} ms; transcript: {transcript}")

    topics = {t for t, _, _ in got.messages if t.startswith(f"{prefix}/alerts/")}
    assert topics == {f"{prefix}/alerts/{feed.call_id}"}
    assert payload["rule_id"] == "pci.pan-spoken" and payload["severity"] == "critical"
    assert payload["details"]["brand"] == "amex" and payload["speaker"] == "customer"
    assert -0.5 < latency < MAX_LATENCY, f"speech-to-alert {latency:.2f} s"
    assert CARD not in json.dumps(got.messages) and CARD not in json.dumps(detail)  # never leaves unredacted

    stored_ids = [f["finding_id"] for f in detail["findings"]]
    assert payload["finding_id"] in stored_ids
    assert detail["call"]["status"] == "completed" and detail["call"]["end_reason"] == "stop"
    assert detail["report"]["passed"] is False
    assert any(CARD[-4:] in line for line in transcript if "customer" in line), transcript
    # The service's own speech-to-alert histogram counted the delivered alerts with a known audio arrival time.
    assert histogram_count(metrics_text, "callwarden_speech_to_alert_seconds") >= 1
