"""Call feeders: stream a stereo recording into a Callwarden ingest endpoint as a telephony platform would."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import connect

from streams.codecs import Encoding, encode

Stereo = npt.NDArray[np.int16]


@dataclass(slots=True)
class FeedLog:
    """What a feeder did: wall time each chunk's last sample left us (per audio second), and the close."""

    call_id: str
    sent: list[tuple[float, float]] = field(default_factory=list)  # (audio seconds sent so far, wall time)
    close_code: int | None = None
    close_reason: str = ""

    def wall_when_sent(self, audio_time: float) -> float | None:
        """Wall time the audio at `audio_time` had been sent (None if it never was)."""
        for audio_end, wall in self.sent:
            if audio_end >= audio_time - 1e-6:
                return wall
        return None


async def _pace(start: float, audio_seconds: float, speed: float) -> None:
    if speed > 0:
        delay = start + audio_seconds / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def stream_twilio(
    url: str,
    audio: Stereo,
    rate: int = 8000,
    agent_channel: int = 0,
    call_id: str | None = None,
    speed: float = 1.0,
    chunk_ms: int = 20,
    parameters: dict[str, str] | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> FeedLog:
    """Send `audio` (frames × 2, int16, 8 kHz) as Twilio Media Streams does: both tracks, mu-law, `chunk_ms` chunks.

    The agent's channel is the `outbound` track, the customer's `inbound`. `speed` 1.0 is real time; 0 = full speed.
    `headers` go with the upgrade (X-Twilio-Signature); `parameters` are the start's customParameters (token).
    """
    if rate != 8000:
        raise ValueError("Twilio Media Streams carry 8 kHz audio; resample first")
    call_sid = call_id or f"CA{uuid.uuid4().hex}"
    stream_sid = f"MZ{uuid.uuid4().hex}"
    feed = FeedLog(call_sid)
    tracks = {"outbound": audio[:, agent_channel], "inbound": audio[:, 1 - agent_channel]}
    step = rate * chunk_ms // 1000
    async with connect(url, max_size=None, compression=None, additional_headers=list(headers)) as ws:
        seq = 1
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        start = {
            "accountSid": "AC" + "0" * 32,
            "streamSid": stream_sid,
            "callSid": call_sid,
            "tracks": ["inbound", "outbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": parameters or {},
        }
        await ws.send(json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": start}))
        began = time.monotonic()
        for chunk_no, offset in enumerate(range(0, audio.shape[0], step), start=1):
            for track, pcm in tracks.items():
                seq += 1
                payload = base64.b64encode(encode(pcm[offset : offset + step], Encoding.MULAW)).decode()
                media = {
                    "track": track,
                    "chunk": str(chunk_no),
                    "timestamp": str(offset * 1000 // rate),
                    "payload": payload,
                }
                await ws.send(
                    json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": stream_sid, "media": media})
                )
            sent_to = min(offset + step, audio.shape[0]) / rate
            feed.sent.append((sent_to, time.time()))
            await _pace(began, sent_to, speed)
        seq += 1
        stop = {"accountSid": start["accountSid"], "callSid": call_sid}
        await ws.send(json.dumps({"event": "stop", "sequenceNumber": str(seq), "streamSid": stream_sid, "stop": stop}))
        await ws.close()  # Twilio hangs up right after `stop`
        feed.close_code, feed.close_reason = ws.close_code, ws.close_reason or ""
    return feed


async def stream_raw(
    url: str,
    audio: Stereo,
    rate: int,
    roles: Sequence[str] = ("agent", "customer"),
    call_id: str | None = None,
    speed: float = 1.0,
    chunk_ms: int = 100,
    metadata: dict[str, str] | None = None,
) -> FeedLog:
    """Send `audio` (frames × channels, int16) over Callwarden's raw protocol, then the end frame."""
    feed = FeedLog(call_id or f"raw-{uuid.uuid4().hex[:12]}")
    step = max(1, rate * chunk_ms // 1000)
    async with connect(url, max_size=None, compression=None, subprotocols=None) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "start",
                    "call_id": feed.call_id,
                    "encoding": "pcm_s16le",
                    "sample_rate": rate,
                    "channels": [{"role": r} for r in roles],
                    "metadata": metadata or {},
                }
            )
        )
        began = time.monotonic()
        for offset in range(0, audio.shape[0], step):
            await ws.send(audio[offset : offset + step].astype("<i2").tobytes())
            sent_to = min(offset + step, audio.shape[0]) / rate
            feed.sent.append((sent_to, time.time()))
            await _pace(began, sent_to, speed)
        await ws.send(json.dumps({"type": "end"}))
        await ws.wait_closed()
        feed.close_code, feed.close_reason = ws.close_code, ws.close_reason or ""
    return feed
