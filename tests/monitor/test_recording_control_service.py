"""Acceptance: a real call in which a card is read gets pause_recording on MQTT and on a signed webhook before the
card's final is stored, and resume_recording after the run: the real service, Vosk model, Mosquitto, a Twilio Media
Streams client and a local HTTP receiver (which refuses the first POST: the outbox retries it)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from monitor.config.settings import WebhookConfig
from monitor.sinks.webhook import SIGNATURE_HEADER, TOPIC_HEADER, verify
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import (
    Receiver,
    StoreWatch,
    card_call,
    get_json,
    running_service,
    service_config,
    subscriber,
)

pytestmark = pytest.mark.slow
CARD = "378282246310005"  # Amex test number; the FSDD voice "lucas" reads it as one utterance Vosk gets right


SECRET = "test-webhook-secret-0123456789"


async def test_card_read_pauses_the_recording_before_its_final_is_stored_and_resumes_after(
    mosquitto: MosquittoBroker, vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    call = card_call(CARD, digit_voice="lucas", late=True)
    prefix = f"cwtest-{uuid.uuid4().hex[:8]}"
    receiver = Receiver(refuse=1)
    config = service_config(
        tmp_path, vosk_model_path, free_port(), mosquitto.url, mqtt_topic_prefix=prefix,
        recording_control=True, recording_resume_seconds=6.0, webhook=WebhookConfig(receiver.url, SECRET),
    )
    watch = StoreWatch(config.db_path)
    watcher = asyncio.create_task(asyncio.to_thread(watch.run))
    try:
        with receiver:
            async with (
                running_service(config) as base,
                subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
            ):
                feed = await stream_twilio(f"ws://{base}/ingest/twilio", call.call.audio, speed=1.0)
                score_topic = f"{prefix}/calls/{feed.call_id}/score"
                await got.wait_until(lambda: any(t == score_topic for t, _, _ in got.messages), 60)
                await got.wait_until(lambda: sum(1 for post in receiver.posts if post[1] == 204) >= 2, 30)
                detail = await get_json(f"http://{base}/api/calls/{feed.call_id}")
    finally:
        watch.stop()
        await watcher

    control = [(p, t) for topic, p, t in got.messages if topic == f"{prefix}/calls/{feed.call_id}/control"]
    assert [p["action"] for p, _ in control] == ["pause_recording", "resume_recording"], control
    (pause, paused_wall), (resume, _) = control
    label = next(t for t in call.call.labels if t.text.startswith("okay. it is"))
    card_lines = [
        line for line in detail["transcript"]
        if line["speaker"] == "customer" and ("[card" in line["text"] or "[number]" in line["text"])
    ]
    assert card_lines, detail["transcript"]
    first = min(card_lines, key=lambda line: line["start"])
    stored_wall = watch.first_seen[(feed.call_id, first["channel"], first["index"])]
    print(
        f"\npause ({pause['trigger']}) at {pause['at']:.2f} s audio, on the wire "
        f"{(paused_wall - pause['triggered_wall']) * 1000:.0f} ms after its trigger, "
        f"{stored_wall - paused_wall:.2f} s before the card's final was stored; resume at {resume['at']:.2f} s"
    )
    assert paused_wall < stored_wall  # the recorder heard "pause" before the digits reached any record
    assert pause["at"] <= label.end and resume["at"] >= call.last_digit_end  # it covers the whole card reading
    assert pause["sequence"] == 1 and resume["sequence"] == 2 and resume["trigger"] == "quiet"
    assert 0.0 <= paused_wall - pause["triggered_wall"] < 5.0
    assert CARD not in str(got.messages)
    assert not [topic for topic, _, _ in got.messages if "/webhook/" in topic]  # each sink drains only its own rows

    # The webhook: the first POST was refused (503), the outbox retried it; each accepted POST is signed.
    assert [status for _, status, _, _ in receiver.posts] == [503, 204, 204], receiver.posts
    accepted = [(wall, headers, body) for wall, status, headers, body in receiver.posts if status == 204]
    for wall, headers, body in accepted:
        assert verify(SECRET, headers[SIGNATURE_HEADER], body, now=wall)
        assert not verify(SECRET, headers[SIGNATURE_HEADER], body + b" ", now=wall)
        assert headers[TOPIC_HEADER] == f"calls/{feed.call_id}/control"
    hooks = [json.loads(body) for _, _, body in accepted]
    assert [h["action"] for h in hooks] == ["pause_recording", "resume_recording"]
    assert hooks[0] == pause and hooks[1] == resume  # the same message as on MQTT
    hooked_wall = accepted[0][0]
    hook_ms = (hooked_wall - pause["triggered_wall"]) * 1000
    print(f"webhook pause accepted {hook_ms:.0f} ms after its trigger (after one refused POST)")
    assert hooked_wall < stored_wall
