"""Helpers for ASR tests: the reference clips (shared/data/README.md), a raw Vosk loop, the pipeline on one clip."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from rules.events import Event, Utterance
from streams.audiofile import EncodedAudio
from streams.offline import run_audio
from streams.pipeline import PipelineConfig, Transcription
from streams.transcriber import AsrConfig

DIGITS_REF = "one zero zero zero one nine oh two one oh zero one eight zero three"
JFK_REF = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def reference_clips(shared: Path) -> dict[Path, str]:
    """Clip → reference transcript: librivox/*.wav (refs beside), jfk.flac and vosk-digits.wav (refs in README)."""
    audio = shared / "audio"
    clips = {audio / "vosk-digits.wav": DIGITS_REF, audio / "jfk.flac": JFK_REF}
    for wav in sorted((audio / "librivox").glob("*.wav")):
        clips[wav] = wav.with_suffix(".txt").read_text().strip()
    return clips


def raw_vosk_text(model: Any, pcm: bytes, rate: int, chunk_frames: int = 4000) -> str:
    """The plain Vosk example loop: AcceptWaveform over fixed chunks, Result on endpoints, FinalResult."""
    import vosk

    recognizer = vosk.KaldiRecognizer(model, rate)
    texts = []
    step = chunk_frames * 2
    for offset in range(0, len(pcm), step):
        if recognizer.AcceptWaveform(pcm[offset : offset + step]):
            texts.append(json.loads(recognizer.Result())["text"])
    texts.append(json.loads(recognizer.FinalResult())["text"])
    return " ".join(t for t in texts if t)


def pipeline_events(
    audio: EncodedAudio,
    model: Any,
    agent_channel: int | None = 0,
    config: AsrConfig | None = None,
    attribute_mono: bool = True,
) -> list[Event]:
    """All events of `audio` streamed through Transcription/CallStream in 20 ms chunks at full speed (a mono clip's
    one unknown leg split into agent / customer turns unless `attribute_mono` is off)."""
    events: list[Event] = []

    async def main() -> None:
        pipeline = PipelineConfig(asr=config or AsrConfig(), attribute_mono=attribute_mono)
        async with Transcription(pipeline, model=model) as asr:
            await run_audio(asr, audio, events.append, "test-call", agent_channel)

    asyncio.run(main())
    return events


def final_text(events: list[Event], channel: int = 0) -> str:
    return " ".join(e.text for e in events if isinstance(e, Utterance) and e.final and e.channel == channel and e.text)


def tuned_model(model_path: Path) -> Any:
    """The process-wide model with our default (telephony) tuning, as the pipeline loads it."""
    from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model

    return load_tuned_model("en-us", str(model_path), TELEPHONY_ENDPOINTS)[0]
