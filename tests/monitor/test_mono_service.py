"""Acceptance: a single-channel call (a stereo call mixed down with sox) on the real service is split into agent and
customer turns; disclosure, consent and the card are judged as on stereo, findings carry attribution_confidence."""

from __future__ import annotations

import shutil
import subprocess
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest

from evaluation.feeders import stream_raw
from evaluation.synth import Turn, render_call, write_wav
from rules.events import Speaker
from tests.conftest import MosquittoBroker
from tests.monitor.ingest_support import FSDD, TEST_PAN, VOICES, findings_by_rule, record, running_service
from tests.monitor.service_harness import subscriber

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

A, C = Speaker.AGENT, Speaker.CUSTOMER
MONO_CALL = (
    Turn(A, "good morning, thank you for calling acme bank. my name is sam.", speed=130),
    Turn(C, "good morning.", speed=140),
    Turn(A, "this call may be recorded for quality and training purposes. is that okay with you?", speed=130),
    Turn(C, "yes, go ahead.", speed=140),
    Turn(A, "great. how can i help you today?", speed=130),
    Turn(C, "i would like to pay my bill with a card.", speed=140),
    Turn(A, "sure. please read me the long card number.", speed=130),
    Turn(C, "it is", speed=140, digits=TEST_PAN, digit_voice="jackson"),
    Turn(A, "thank you. your payment is complete. goodbye.", speed=130),
)


def mono_mixdown(tmp_path: Path) -> np.ndarray:
    """The call rendered in stereo (agent left), mixed down to one channel by sox, as int16 frames × 1."""
    call = render_call(MONO_CALL, rate=8000, agent_channel=0, gap=0.6, tail=1.0, voices=VOICES, fsdd_dir=FSDD)
    stereo, mono = tmp_path / "stereo.wav", tmp_path / "mono.wav"
    write_wav(stereo, call.audio, call.rate)
    sox = shutil.which("sox")
    assert sox is not None, "sox is needed to mix the call down (apt-get install sox)"
    subprocess.run([sox, str(stereo), "-c", "1", str(mono)], check=True)
    with wave.open(str(mono)) as f:
        assert (f.getnchannels(), f.getframerate(), f.getsampwidth()) == (1, 8000, 2)
        frames = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return frames.reshape(-1, 1)


async def test_mono_call_is_split_into_turns_and_judged_like_stereo(
    tmp_path: Path, vosk_model_path: Path, espeak: str, shared_data: Path, mosquitto: MosquittoBroker
) -> None:
    audio = mono_mixdown(tmp_path)
    prefix = f"cwmono-{uuid.uuid4().hex[:8]}"
    async with (
        running_service(tmp_path / "data", vosk_model_path, mqtt_url=mosquitto.url, mqtt_topic_prefix=prefix) as svc,
        subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
    ):
        feed = await stream_raw(svc.ws("/ingest/raw"), audio, 8000, ("unknown",), call_id="mono-1", speed=0)
        detail = await svc.finished_call(feed.call_id, timeout=120)
        await got.wait_until(lambda: got.first("mono-1", "pan_detected") is not None, timeout=30)
    rules = findings_by_rule(detail)
    transcript = [(t["speaker"], t["text"]) for t in detail["transcript"]]
    record({"findings": rules, "transcript": transcript}, "mono")
    assert (feed.close_code, detail["call"]["status"]) == (1000, "completed")
    # the one unknown leg became both parties' turns, in the transcript the API shows
    assert {speaker for speaker, _ in transcript} == {"agent", "customer"}
    greeting = next(s for s, text in transcript if "calling" in text)
    pay = next(s for s, text in transcript if "pay my bill" in text or "my bill" in text)
    assert (greeting, pay) == ("agent", "customer")
    # the rules that need one side now match: the agent's notice and question, the customer's yes, the card
    assert rules["disclosure.recording"] == ["said"]
    # the agent's question opened an answer window and the customer's turn was judged in it (before the split: no
    # question at all, "not asked"). What the mixed channel's recognizer makes of the short answer varies ("yes go
    # ahead" came out as "yo dawg a" → unclear; on stereo it is its own utterance): the attribution cannot fix that.
    assert rules["consent.recording"] in (["consent_given"], ["consent_unclear"])
    consent = next(f for f in detail["findings"] if f["rule_id"] == "consent.recording")
    assert consent["speaker"] == "customer"
    assert "pan_detected" in rules["pci.pan-spoken"]
    # every finding says how sure the split behind it is: stored, in the API, the report and the MQTT alert
    for finding in detail["findings"]:
        assert 0.5 <= finding["attribution_confidence"] <= 1.0, finding
    items = {item["rule_id"]: item for item in detail["report"]["items"]}
    assert all("attribution_confidence" in e for e in items["disclosure.recording"]["evidence"])
    alert = got.first("mono-1", "pan_detected")
    assert alert is not None and 0.5 <= alert[0]["attribution_confidence"] <= 1.0
    assert TEST_PAN not in repr(detail) and TEST_PAN not in repr(got.messages)
