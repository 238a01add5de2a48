"""Transcription connector latency: a final utterance's end (audio time) → its AudioHook `event` on the wire.

Run: .venv/bin/python bench/audiohook_transcript_latency.py [--calls 3] [--concurrency 1] [--json out.json]
The real service (monitor.web.server.run_server, real Vosk model) runs in-process with one AudioHook API key in
transcription-connector mode ("final"). A minimal AudioHook client here (websockets) opens a session as Genesys
does (open with [external, internal] PCMU, then 200 ms stereo frames at real-time pace) and streams the bundled demo
call (demo/demo-call.wav, 43 s, swapped so that left = customer), then closes and waits for `closed`. For every
final transcript entity it receives: latency = receive wall time − wall time the client sent the frame holding the
entity's end (offset + duration). That includes Vosk's endpointing (an utterance is final only after 0.4-0.8 s of
trailing silence), the 200 ms frame, the audio-time merge of the legs and the redaction. Transcripts delivered
while draining a close (the last utterance) are counted like the others. The machine is shared with other agents:
the figures are medians over calls run back to back in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import connect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.config.settings import AudioHookConfig  # noqa: E402
from streams.codecs import Encoding, encode  # noqa: E402
from streams.models import resolve  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.monitor.service_harness import running_service, service_config  # noqa: E402

API_KEY = "bench-connector"
FRAME_SECONDS = 0.2
DEMO = REPO / "demo" / "demo-call.wav"


@dataclass
class CallFigures:
    """One call: each final's end (audio s) and its latency (s), and how long `closed` took after `close`."""

    latencies: list[tuple[float, float]] = field(default_factory=list)
    close_to_closed: float = 0.0
    events: int = 0


def demo_frames() -> list[bytes]:
    """The demo call as 200 ms PCMU stereo frames, left = customer (external), right = agent (internal)."""
    with wave.open(str(DEMO)) as source:
        audio = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").reshape(-1, 2)[:, ::-1]
    step = round(8000 * FRAME_SECONDS)
    return [encode(audio[i : i + step], Encoding.MULAW) for i in range(0, len(audio), step)]


def message(session: str, msg_type: str, seq: int, serverseq: int, position: float, **parameters: Any) -> str:
    return json.dumps(
        {"version": "2", "id": session, "type": msg_type, "seq": seq, "serverseq": serverseq,
         "position": f"PT{position:.3f}S", "parameters": parameters}
    )  # fmt: skip


async def one_call(url: str, frames: list[bytes]) -> CallFigures:
    session, org = str(uuid.uuid4()), str(uuid.uuid4())
    headers = {
        "X-API-KEY": API_KEY, "Audiohook-Organization-Id": org, "Audiohook-Session-Id": session,
        "Audiohook-Correlation-Id": str(uuid.uuid4()),
    }  # fmt: skip
    figures = CallFigures()
    sent: list[tuple[float, float]] = []  # (audio seconds sent so far, wall time)
    closed = asyncio.Event()
    serverseq = 0

    async with connect(url, additional_headers=headers, compression=None, max_size=None) as ws:
        media = [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]
        await ws.send(message(session, "open", 1, 0, 0.0, organizationId=org, conversationId=str(uuid.uuid4()),
                              participant={"id": str(uuid.uuid4()), "ani": "", "aniName": "", "dnis": ""},
                              media=media, language="en-US"))  # fmt: skip
        opened = json.loads(await ws.recv())
        assert opened["type"] == "opened", opened
        serverseq = opened["seq"]

        async def receive() -> None:
            nonlocal serverseq
            async for raw in ws:
                now = time.time()
                received = json.loads(raw)
                serverseq = received["seq"]
                if received["type"] == "closed":
                    closed.set()
                    return
                if received["type"] != "event":
                    continue
                for entity in received["parameters"]["entities"]:
                    data = entity["data"]
                    if entity["type"] != "transcript" or not data["isFinal"]:
                        continue
                    end = float(data["offset"][2:-1]) + float(data["duration"][2:-1])
                    sent_wall = next((wall for audio_s, wall in sent if audio_s >= end - 1e-6), None)
                    if sent_wall is not None:
                        figures.latencies.append((end, now - sent_wall))
                    figures.events += 1

        receiver = asyncio.create_task(receive())
        began = time.monotonic()
        position = 0.0
        for frame in frames:
            await ws.send(frame)
            position += len(frame) / 2 / 8000
            sent.append((position, time.time()))
            delay = began + position - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        closing = time.monotonic()
        await ws.send(message(session, "close", 2, serverseq, position, reason="end"))
        await asyncio.wait_for(closed.wait(), 10)
        figures.close_to_closed = time.monotonic() - closing
        await asyncio.wait_for(receiver, 5)
    return figures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    frames = demo_frames()
    audiohook = AudioHookConfig(api_keys={API_KEY: ""}, transcription_connector={API_KEY: "final"})
    with tempfile.TemporaryDirectory() as tmp:
        config = service_config(
            Path(tmp) / "data", resolve("en-us", fetch=False), free_port(), audiohook=audiohook, asr_overflow="shed"
        )
        async with running_service(config) as base:
            url = f"ws://{base}/ingest/audiohook"
            results: list[CallFigures] = []
            for first in range(0, args.calls, args.concurrency):
                batch = range(first, min(args.calls, first + args.concurrency))
                results += await asyncio.gather(*(one_call(url, frames) for _ in batch))
    per_call = [[latency for _, latency in r.latencies] for r in results]
    every = [latency for latencies in per_call for latency in latencies]
    summary = {
        "calls": len(results),
        "concurrency": args.concurrency,
        "finals": len(every),
        "p50_s": round(statistics.median(every), 3),
        "p95_s": round(percentile(every, 0.95), 3),
        "max_s": round(max(every), 3),
        "per_call_p50_s": [round(statistics.median(c), 3) for c in per_call],
        "per_call_p95_s": [round(percentile(c, 0.95), 3) for c in per_call],
        "close_to_closed_s": [round(r.close_to_closed, 3) for r in results],
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "calls": [asdict(r) for r in results]}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
