"""Transcript and call-lifecycle events: what the audio edge feeds the engine, timed on the call's audio clock."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


def rebuild_args(obj: Any) -> tuple[type[Any], tuple[Any, ...]]:
    """`__reduce__` of the frozen dataclasses here: rebuilt from their fields in order, so copy and pickle work
    alike in pure Python and compiled by mypyc (monitor/native.py), whose frozen classes refuse setattr-based state."""
    return type(obj), tuple([getattr(obj, f.name) for f in fields(obj)])


class Speaker(StrEnum):
    """Who is talking on a leg of the call."""

    AGENT = "agent"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognized word; times are seconds of audio since the call started."""

    text: str
    start: float
    end: float
    conf: float = 1.0

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


@dataclass(frozen=True, slots=True)
class CallStarted:
    """A call began; `at` is its audio time (normally 0.0)."""

    call_id: str
    at: float = 0.0
    language: str = "en"
    metadata: dict[str, str] = field(default_factory=dict)

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


@dataclass(frozen=True, slots=True)
class Utterance:
    """A partial or final recognition result of one leg.

    Partials of the same utterance share `index` with its final; each new partial replaces the
    previous one (its text is the whole utterance so far, not a delta).

    `attribution_confidence` is None when the speaker is the leg's (a channel of its own); on a single-channel leg
    split into agent and customer turns (rules/attribution.py) it is how sure that split is, 0.5 … 1.0.
    """

    call_id: str
    speaker: Speaker
    channel: int
    index: int
    text: str
    words: tuple[Word, ...]
    start: float
    end: float
    final: bool
    attribution_confidence: float | None = None

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


@dataclass(frozen=True, slots=True)
class AudioTick:
    """The call's audio clock reached `at` seconds (sent periodically, also in silence)."""

    call_id: str
    at: float

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The call ended at audio time `at`; `reason` is e.g. "hangup", "stream-closed", "error"."""

    call_id: str
    at: float
    reason: str = "hangup"

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


@dataclass(frozen=True, slots=True)
class DigitReading:
    """What a second recognizer restricted to digit words heard on one leg (streams/digitpass.py).

    It runs only around card talk (opened by a payment prompt or a digit run on the leg). Readings of one session
    share `index` (per channel): each replaces the previous one, holding all digit words of the session so far;
    the last has `final` true. `words` are digit words ("zero" … "nine", "oh") with times on the call's audio
    clock and Vosk's confidence; "[unk]" marks speech the grammar could not place (it splits the digits into
    segments). `source` names the pass ("digits"). The rules treat these as another reading of the same speech,
    never as transcript: they are not stored, shown or published.
    """

    call_id: str
    speaker: Speaker
    channel: int
    index: int
    words: tuple[Word, ...]
    start: float
    end: float
    final: bool
    source: str = "digits"

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


Event = CallStarted | Utterance | AudioTick | CallEnded | DigitReading
