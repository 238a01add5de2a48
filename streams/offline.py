"""Whole files through the live path: an audio file is cut into wire-sized chunks and fed to a CallStream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from rules.events import Event
from streams.audiofile import EncodedAudio, read_audio
from streams.pipeline import CallStream, PipelineConfig, Transcription, default_roles

EventSink = Callable[[Event], None]


async def feed_audio(
    call: CallStream, audio: EncodedAudio, chunk_seconds: float = 0.02, realtime: bool = False
) -> None:
    """Feed `audio` to `call` in chunks like a live stream (paced to wall time when `realtime`), then end it."""
    started = time.monotonic()
    sent = 0.0
    for chunk in audio.chunks(chunk_seconds):
        await call.feed(chunk)
        sent += audio.fmt.seconds(len(chunk))
        if realtime:
            await asyncio.sleep(max(0.0, started + sent - time.monotonic()))
    await call.end("stream-closed")


async def run_audio(
    asr: Transcription,
    audio: EncodedAudio,
    on_event: EventSink,
    call_id: str = "file",
    agent_channel: int | None = 0,
    realtime: bool = False,
    chunk_seconds: float = 0.02,
) -> None:
    """Transcribe `audio` as one call on a started `asr`, handing each event to `on_event` as it is made."""
    roles = default_roles(audio.fmt.channels, agent_channel)
    async with asr.call(call_id, audio.fmt, roles) as call, asyncio.TaskGroup() as group:
        group.create_task(_drain(call, on_event))
        await feed_audio(call, audio, chunk_seconds, realtime)


async def _drain(call: CallStream, on_event: EventSink) -> None:
    async for event in call.events():
        on_event(event)


def transcribe_file(
    path: str | Path,
    agent_channel: int | None = 0,
    config: PipelineConfig | None = None,
    call_id: str | None = None,
    realtime: bool = False,
    chunk_seconds: float = 0.02,
) -> list[Event]:
    """All events of one audio file, produced by exactly the live streaming path (synchronous)."""
    audio = read_audio(path)
    events: list[Event] = []

    async def main() -> None:
        async with Transcription(config) as asr:
            await run_audio(
                asr, audio, events.append, call_id or Path(path).stem, agent_channel, realtime, chunk_seconds
            )

    asyncio.run(main())
    return events
