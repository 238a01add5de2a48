"""Offline analysis of recorded calls: audio through the live streaming path, events through the rules engine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.engine import CallMonitor
from rules.events import Event, Speaker, Utterance
from rules.findings import Finding
from rules.packs import RuleSet
from rules.redact import Redactor
from streams.audiofile import EncodedAudio, read_audio
from streams.offline import run_audio
from streams.pipeline import PipelineConfig, Transcription
from streams.transcriber import AsrConfig

OFFLINE_QUEUE_SECONDS = 1.0
"""Per-leg queue when a file is fed at full speed: a mostly silent leg decodes much faster than a talking one, and
with the live default (10 s) its events ran up to ~6 s of audio ahead of the other leg's (an answer arriving before
its question). A 1 s queue keeps the legs as close in audio time as a real-time call keeps them."""


def offline_config(asr: AsrConfig | None = None) -> PipelineConfig:
    """The pipeline settings for analysing files: the live defaults with legs kept within ~1 s of each other."""
    return PipelineConfig(asr=asr or AsrConfig(), max_queued_seconds=OFFLINE_QUEUE_SECONDS)


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One final utterance as shown to people: speaker, audio times and REDACTED text."""

    speaker: Speaker
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class CallAnalysis:
    """What analysing one call produced: every event (raw, in order), the findings and the scoring report."""

    call_id: str
    events: tuple[Event, ...]
    findings: tuple[Finding, ...]
    report: dict[str, Any]
    transcript: tuple[TranscriptLine, ...]


class _Collector:
    """Feeds each event to the engine as it is made (as a live session does) and keeps a redacted transcript."""

    def __init__(self, ruleset: RuleSet, call_id: str, language: str) -> None:
        self.monitor = CallMonitor(ruleset, call_id=call_id, default_language=language)
        self.redactor = Redactor(language.split("-")[0])
        self.events: list[Event] = []
        self.transcript: list[TranscriptLine] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, Utterance):
            text = self.redactor.redact_utterance(event)
            if event.final and text:
                self.transcript.append(TranscriptLine(event.speaker, event.start, event.end, text))
        self.monitor.feed(event)

    def result(self, call_id: str, pass_mark: float) -> CallAnalysis:
        return CallAnalysis(
            call_id,
            tuple(self.events),
            tuple(self.monitor.findings),
            self.monitor.report(pass_mark),
            tuple(sorted(self.transcript, key=lambda line: (line.start, line.speaker))),
        )


async def analyze_audio(
    asr: Transcription,
    audio: EncodedAudio,
    ruleset: RuleSet,
    call_id: str,
    agent_channel: int | None = 0,
    language: str = "en",
    pass_mark: float = 80.0,
) -> CallAnalysis:
    """Analyse one call's audio on a started `asr` (the live code path: chunks → CallStream → events → rules)."""
    collector = _Collector(ruleset, call_id, language)
    await run_audio(asr, audio, collector.on_event, call_id, agent_channel)
    return collector.result(call_id, pass_mark)


def analyze_files(
    paths: Sequence[Path],
    ruleset: RuleSet,
    agent_channel: int | None = 0,
    config: PipelineConfig | None = None,
    pass_mark: float = 80.0,
) -> list[CallAnalysis]:
    """Analyse audio files one after another with one loaded model; call ids are the file stems.

    `config` defaults to `offline_config()`.

    Raises streams.audiofile.AudioFileError for unreadable files (before any model is loaded) and ValueError
    when `agent_channel` does not exist in a file.
    """
    audios = [read_audio(path) for path in paths]
    config = config or offline_config()

    async def main() -> list[CallAnalysis]:
        async with Transcription(config) as asr:
            return [
                await analyze_audio(asr, audio, ruleset, path.stem, agent_channel, pass_mark=pass_mark)
                for path, audio in zip(paths, audios, strict=True)
            ]

    return asyncio.run(main())
