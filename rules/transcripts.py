"""Scripted transcripts → engine events: "[12.5] agent: text" lines become partial/final utterances and ticks.

Each line starts at its `[seconds]` prefix, or when the previous line ended. Words last WORD_SECONDS each.
Every utterance yields a partial after each PARTIAL_EVERY words and then its final; each arrives when its
last word ends. AudioTicks come every second of audio; a tick and an utterance due at the same time arrive
utterance first. CallEnded comes one second after the last word.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rules.events import AudioTick, CallEnded, CallStarted, Event, Speaker, Utterance, Word

WORD_SECONDS = 0.35
PARTIAL_EVERY = 3
TAIL_SECONDS = 1.0
CHANNELS = {Speaker.AGENT: 0, Speaker.CUSTOMER: 1}
_LINE = re.compile(r"^\s*(?:\[\s*(?P<at>\d+(?:\.\d+)?)\s*\]\s*)?(?P<speaker>agent|customer)\s*:\s*(?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One parsed transcript line: optional start time, speaker, text."""

    at: float | None
    speaker: Speaker
    text: str


class TranscriptError(ValueError):
    """A transcript line that does not follow the "[time] agent|customer: text" format."""


def parse_line(line: str) -> ScriptLine:
    """Parse one line; raises TranscriptError saying what is expected."""
    found = _LINE.match(line)
    if found is None:
        raise TranscriptError(
            f"transcript line {line!r} must look like 'agent: text' or 'customer: text', "
            "optionally prefixed by an audio time like '[12.5] '"
        )
    at = found.group("at")
    return ScriptLine(float(at) if at is not None else None, Speaker(found.group("speaker")), found.group("text"))


def _utterance_events(call_id: str, line: ScriptLine, index: int, start: float) -> list[Utterance]:
    words = tuple(
        Word(text, start + i * WORD_SECONDS, start + (i + 1) * WORD_SECONDS) for i, text in enumerate(line.text.split())
    )
    end = words[-1].end if words else start
    channel = CHANNELS[line.speaker]
    events = [
        Utterance(
            call_id,
            line.speaker,
            channel,
            index,
            " ".join(w.text for w in words[:n]),
            words[:n],
            start,
            words[n - 1].end,
            False,
        )
        for n in range(PARTIAL_EVERY, len(words), PARTIAL_EVERY)
    ]
    events.append(Utterance(call_id, line.speaker, channel, index, line.text.strip(), words, start, end, True))
    return events


def transcript_events(call_id: str, lines: Sequence[str], language: str = "en") -> list[Event]:
    """The full event sequence of a scripted call (CallStarted … CallEnded)."""
    timed: list[Utterance] = []
    clock = 0.0
    indexes = dict.fromkeys(CHANNELS, 0)
    for raw in lines:
        line = parse_line(raw)
        start = line.at if line.at is not None else clock
        utterances = _utterance_events(call_id, line, indexes[line.speaker], start)
        indexes[line.speaker] += 1
        timed.extend(utterances)
        clock = max(clock, utterances[-1].end)
    end_at = clock + TAIL_SECONDS
    out: list[Event] = [CallStarted(call_id, 0.0, language)]
    next_tick = 1.0
    for utterance in sorted(timed, key=lambda u: (u.end, u.final)):
        while next_tick < utterance.end and not math.isclose(next_tick, utterance.end):
            out.append(AudioTick(call_id, next_tick))
            next_tick += 1.0
        out.append(utterance)
    while next_tick <= end_at:
        out.append(AudioTick(call_id, next_tick))
        next_tick += 1.0
    out.append(CallEnded(call_id, end_at))
    return out
