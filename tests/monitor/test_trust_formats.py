"""Defect 1 of issue #14: a call declaring an absurd sample rate (1 Hz) wedged every Vosk worker and shutdown.

Against the real service: such calls are refused at the edge with 1003 and a reason, and a legitimate call right
after them is recognized and alerted as usual (the service shuts down cleanly at the end of the test)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evaluation.feeders import stream_raw
from tests.monitor.ingest_support import card_call, findings_by_rule, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def _refused(url: str, frames: list[str | bytes], subprotocols: Any = None) -> tuple[int | None, str]:
    """Send `frames` then wait (≤ 5 s) for the server's close: its code and reason."""
    async with connect(url, compression=None, subprotocols=subprotocols) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        except ConnectionClosed:
            pass
        except TimeoutError:
            return None, "no close within 5 s"
        return ws.close_code, ws.close_reason or ""


def _raw_start(call_id: str, rate: int) -> str:
    return json.dumps({"type": "start", "call_id": call_id, "encoding": "pcm_s16le", "sample_rate": rate,
                       "channels": [{"role": "agent"}, {"role": "customer"}]})  # fmt: skip


def _twilio_frames(call_sid: str, rate: int) -> list[str | bytes]:
    start = {"accountSid": "AC" + "0" * 32, "streamSid": "MZ1", "callSid": call_sid, "tracks": ["inbound"],
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": rate, "channels": 1}}  # fmt: skip
    media = {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "//////////8="}
    return [
        json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": start}),
        *[json.dumps({"event": "media", "sequenceNumber": str(n), "streamSid": "MZ1", "media": media})
          for n in range(2, 12)],
    ]  # fmt: skip


async def test_absurd_sample_rates_are_refused_and_other_calls_go_on(
    tmp_path: Path, vosk_model_path: Path, espeak: str, shared_data: Path
) -> None:
    call = card_call(8000)
    async with running_service(tmp_path, vosk_model_path, asr_threads=2) as service:
        closes = {}
        for rate in (1, 2, 7, 8001, 10**9):
            closes[f"raw {rate}"] = await _refused(
                service.ws("/ingest/raw"), [_raw_start(f"absurd-{rate}", rate), b"\x00\x01" * 64]
            )
            closes[f"twilio {rate}"] = await _refused(
                service.ws("/ingest/twilio"), _twilio_frames(f"CAabsurd{rate}", rate)
            )
        meta = json.dumps({"callId": "fork-absurd", "sampleRate": 1})
        closes["audiofork 1"] = await _refused(
            service.ws("/ingest/audiofork"), [meta, b"\x00\x01" * 64], subprotocols=["audio.drachtio.org"]
        )
        for what, (code, reason) in closes.items():
            assert code == 1003 and "sample rate" in reason and "8000" in reason, (what, code, reason)
        feed = await asyncio.wait_for(
            stream_raw(service.ws("/ingest/raw"), call.audio, call.rate, call_id="legit-after-absurd", speed=0), 120
        )
        detail = await service.finished_call(feed.call_id)
        listed = {c["call_id"] for c in await service.calls()}
    assert (feed.close_code, detail["call"]["status"]) == (1000, "completed")
    assert "pan_detected" in findings_by_rule(detail)["pci.pan-spoken"]
    assert not any(c.startswith(("absurd", "CAabsurd", "fork-absurd")) for c in listed), listed
