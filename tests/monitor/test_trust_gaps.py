"""Issue #14, second list: an audio gap over 5 s is filled with at most 5 s of silence ONCE — later chunks follow on
from there (the leg's position is rebased), against the real service with a Twilio stream whose timestamps jump."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.monitor.ingest_support import running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _media(seq: int, track: str, millis: int) -> str:
    payload = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of mu-law silence
    media = {"track": track, "chunk": str(seq), "timestamp": str(millis), "payload": payload}
    return json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": "MZgap", "media": media})


async def test_a_long_gap_is_filled_once_with_at_most_five_seconds(tmp_path: Path, vosk_model_path: Path) -> None:
    sid = "CAgap0000000000000000000000000001"
    start = {"accountSid": "AC" + "0" * 32, "streamSid": "MZgap", "callSid": sid, "tracks": ["inbound", "outbound"],
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}  # fmt: skip
    frames = [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
              json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZgap", "start": start})]  # fmt: skip
    seq = 1
    for millis in [*range(0, 1000, 20), *range(60_000, 61_000, 20)]:  # 1 s, a 59 s hole (a pause), 1 s
        for track in ("inbound", "outbound"):
            seq += 1
            frames.append(_media(seq, track, millis))
    frames.append(json.dumps({"event": "stop", "sequenceNumber": str(seq + 1), "streamSid": "MZgap",
                              "stop": {"accountSid": "AC" + "0" * 32, "callSid": sid}}))  # fmt: skip
    async with running_service(tmp_path, vosk_model_path) as service:
        async with connect(service.ws("/ingest/twilio"), compression=None) as ws:
            for frame in frames:
                await ws.send(frame)
        detail = await service.finished_call(sid)
    assert detail["call"]["audio_seconds"] == pytest.approx(1.0 + 5.0 + 1.0, abs=0.1), detail["call"]
