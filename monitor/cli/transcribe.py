"""`callwarden transcribe FILE`: stream an audio file through the live pipeline; print a redacted transcript or JSON."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from monitor.cli.options import add_model_options, asr_config
from rules.events import Event, Utterance, Word
from rules.redact import Redactor
from streams.audiofile import AudioFileError, read_audio
from streams.offline import run_audio
from streams.pipeline import PipelineConfig, Transcription

MASKED_WORD = "[redacted]"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `transcribe` (sets func=run)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "transcribe",
        help="transcribe an audio file (WAV/FLAC) through the live streaming path",
        description=(
            "Stream FILE through exactly the code path live calls take and print final utterances with "
            "speaker and audio times (or every event as JSON lines). Stereo: one leg per channel; mono: one "
            "leg whose speaker is 'unknown'. Digit runs that could be card numbers are always redacted."
        ),
    )
    parser.add_argument("file", type=Path, help="audio file: WAV (PCM 8/16-bit, mu-law, A-law), FLAC, …")
    parser.add_argument(
        "--agent-channel", type=int, choices=(0, 1), default=0, help="stereo channel of the agent (default 0)"
    )
    parser.add_argument("--json", action="store_true", help="print every event (partials, ticks…) as JSON lines")
    parser.add_argument("--realtime", action="store_true", help="feed the audio at real-time pace, like a live call")
    add_model_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Transcribe args.file; 0 on success, 2 when the file cannot be read."""
    try:
        audio = read_audio(args.file)
    except AudioFileError as exc:
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    printer = EventPrinter(sys.stdout, as_json=args.json, lang=args.lang.split("-")[0])
    config = PipelineConfig(asr=asr_config(args))

    async def main() -> None:
        async with Transcription(config) as asr:
            await run_audio(asr, audio, printer.show, args.file.stem, args.agent_channel, args.realtime)

    asyncio.run(main())
    return 0


class EventPrinter:
    """Prints events as they come, redacting utterance text and words with one per-call Redactor."""

    def __init__(self, out: TextIO, as_json: bool, lang: str = "en") -> None:
        self.out = out
        self.as_json = as_json
        self.redactor = Redactor(lang)

    def show(self, event: Event) -> None:
        if isinstance(event, Utterance):
            event = self.redact(event)
        if self.as_json:
            record = {"type": type(event).__name__, **dataclasses.asdict(event)}
            print(json.dumps(record, ensure_ascii=False), file=self.out, flush=True)
        elif isinstance(event, Utterance) and event.final and event.text:
            print(f"[{event.start:7.2f} – {event.end:7.2f}] {event.speaker:<8} {event.text}", file=self.out, flush=True)

    def redact(self, utterance: Utterance) -> Utterance:
        """The utterance with card-like digit runs masked in its text and its words."""
        words = [w.text for w in utterance.words] if utterance.words else utterance.text.split()
        redacted = self.redactor.redact(
            words, speaker=str(utterance.speaker), start=utterance.start, end=utterance.end, final=utterance.final
        )
        masked = set(redacted.masked)
        safe_words = tuple(
            Word(MASKED_WORD, w.start, w.end, w.conf) if i in masked else w for i, w in enumerate(utterance.words)
        )
        return dataclasses.replace(utterance, text=redacted.text, words=safe_words)
