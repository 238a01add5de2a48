"""The real service with voice-activity gating on: a Twilio card call still raises its card alert, and /metrics says
how much of each leg's audio the gate kept from the recognizer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from evaluation.feeders import stream_twilio
from monitor.config.settings import ConfigError, load_config
from tests.conftest import free_port
from tests.monitor.service_harness import card_call, http_get, running_service, service_config, wait_call_stored

CARD = "378282246310005"  # Amex test number, read by the FSDD voice "lucas" (tests/monitor/test_service_twilio_mqtt.py)


def samples(exposition: str, name: str) -> dict[str, float]:
    """speaker label → value of the samples called `name`."""
    return {
        s.labels["speaker"]: float(s.value)
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == name
    }


@pytest.mark.slow
async def test_gated_service_alerts_and_counts_skipped_audio(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    call = card_call(CARD, digit_voice="lucas")
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), asr_vad="webrtc")
    async with running_service(config) as base:
        feed = await stream_twilio(f"ws://{base}/ingest/twilio", call.call.audio, speed=0)
        detail = await wait_call_stored(base, feed.call_id)
        _, exposition = await asyncio.to_thread(http_get, f"http://{base}/metrics")
    assert detail["call"]["status"] == "completed"
    outcomes = {f["outcome"] for f in detail["findings"]}
    assert "pan_detected" in outcomes, outcomes
    skipped = samples(exposition, "callwarden_asr_skipped_seconds_total")
    legs = samples(exposition, "callwarden_asr_skipped_fraction_count")
    fraction = samples(exposition, "callwarden_asr_skipped_fraction_sum")
    assert legs == {"agent": 1.0, "customer": 1.0}
    # each leg is silent while the other talks: a good part of it was not decoded
    assert all(seconds > 3.0 for seconds in skipped.values()) and set(skipped) == {"agent", "customer"}
    assert all(0.2 < f < 0.9 for f in fraction.values()), fraction


def test_asr_vad_setting(tmp_path: Path) -> None:
    assert load_config(env={}).asr_vad == "off"
    assert load_config(env={"CALLWARDEN_ASR_VAD": "silero"}).asr_vad == "silero"
    with pytest.raises(ConfigError, match="asr_vad must be off, webrtc or silero, not 'on'"):
        load_config(env={"CALLWARDEN_ASR_VAD": "on"})
