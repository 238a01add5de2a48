"""The digit pass of one leg: a second Vosk recognizer restricted to digit words, run only around card talk.

The small model mishears digits read by real voices far more often as free text ("veto", "point", "era") than
when its grammar allows digit words only (measured: digit error rate 0.135 → 0.047 on 24 FSDD card readings;
BENCHMARKS.md). Over whole calls such a grammar turns all other speech into digits, so it runs only where digits
are. It opens when the leg's first pass hears a digit run (`trigger_digits` digit words in a partial or final) or,
on a leg that is not the agent's, when the first pass hears speech within `wait_seconds` after a payment phrase on
another leg of the call (`arm`; the agent asks for the card): silence while the agent talks is not decoded twice.
It decodes from a ring buffer of the last `lookback_seconds` of the leg's audio (the speech began before the first
pass recognized it). Legs are decoded in parallel and one may run seconds ahead of another, so the payment phrase
can reach a leg that has already heard the answer: `arm` carries the phrase's time on the call's audio clock, and
a leg already past it that heard speech since then opens at once, decoding from that time (its ring buffer keeps
`rewind_seconds`). It closes
when no new digit was heard for `idle_seconds` of audio (a segment's partial result, checked every `partial_every`
seconds, counts: a card read without pauses is one long segment), or after `max_seconds`. Each recognized segment
yields a `DigitReading` holding all digit words of the session so far; the last one is final. It costs nothing on
calls without digits or payment talk.

Blocking and not thread-safe, like the LegTranscriber that owns it (one worker at a time); `arm` may be called
from another thread (it only sets a time, then a flag, read on the next slice).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rules.cards import DEFAULT_CONTEXT, phrase_ends
from rules.digit_readings import READING_DIGITS
from rules.events import DigitReading, Speaker, Word

DIGIT_GRAMMAR = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh", "[unk]")
"""The words the digit pass may hear ("[unk]": anything else)."""
PAYMENT_PHRASES = tuple(DEFAULT_CONTEXT["payment"]["en"])
"""Phrases that arm the digit pass on the call's legs (the pci rules' English payment phrases)."""


@dataclass(frozen=True, slots=True)
class DigitPassConfig:
    """When the digit pass runs. Times are seconds of a leg's audio."""

    enabled: bool = True
    lookback_seconds: float = 2.0  # audio kept before the trigger and decoded when the pass opens
    rewind_seconds: float = 10.0  # audio kept for a late arm (the leg ran ahead of the leg with the payment phrase)
    wait_seconds: float = 15.0  # armed by a payment phrase: how long the leg's next speech opens the pass
    idle_seconds: float = 3.0  # the session closes after this much audio without a new digit word
    max_seconds: float = 45.0  # a session never decodes more than this
    trigger_digits: int = 2  # digit words in one first-pass result that open the pass
    partial_every: float = 0.5  # while open, how often the digit recognizer's partial result is checked for digits

    def __post_init__(self) -> None:
        for name in ("lookback_seconds", "rewind_seconds", "wait_seconds", "idle_seconds", "max_seconds",
                     "partial_every"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value <= 600:
                raise ValueError(f"DigitPassConfig.{name} must be a number of seconds in (0, 600], got {value!r}")
        if self.rewind_seconds < self.lookback_seconds:
            raise ValueError(f"DigitPassConfig.rewind_seconds ({self.rewind_seconds!r}) must be at least "
                             f"lookback_seconds ({self.lookback_seconds!r})")
        if self.trigger_digits < 1:
            raise ValueError(f"DigitPassConfig.trigger_digits must be at least 1, got {self.trigger_digits!r}")


@dataclass(slots=True)
class DigitPassStats:
    """What the digit pass of one leg did: sessions opened, audio seconds decoded, CPU seconds spent (thread time)."""

    sessions: int = 0
    audio_seconds: float = 0.0
    cpu_seconds: float = 0.0
    readings: int = 0


def count_digit_words(text: str) -> int:
    """Digit words ("zero" … "nine", "oh") in a recognized text."""
    return sum(1 for word in text.split() if word in READING_DIGITS)


def has_payment_phrase(text: str) -> bool:
    """True when `text` (lower-case recognizer output) holds a payment phrase ("card number", "pay", …)."""
    tokens = [(token, i) for i, token in enumerate(text.split())]
    return bool(phrase_ends(tokens, PAYMENT_PHRASES))


@dataclass(slots=True)
class DigitPass:
    """One leg's digit pass (see the module docstring).

    `to_call_time(leg_seconds)` maps a position on the leg's own fed-audio clock to the call's audio clock (the
    owner adds the leg's offset and shed gaps). `accept` is given every slice the first pass decoded, with the
    leg's fed position (samples) after it.
    """

    call_id: str
    channel: int
    speaker: Speaker
    rate: int
    model: Any
    to_call_time: Callable[[float], float]
    config: DigitPassConfig = field(default_factory=DigitPassConfig)
    stats: DigitPassStats = field(default_factory=DigitPassStats)
    _ring: deque[tuple[bytes, int]] = field(default_factory=deque)  # (slice, leg samples fed after it)
    _ring_samples: int = 0
    _heard: deque[int] = field(default_factory=deque)  # leg samples after each slice whose decoding heard speech
    _recognizer: Any = None
    _base: int = 0  # leg samples before the recognizer's time zero
    _opened: int = 0  # leg samples at opening
    _armed_until: int = -1  # leg samples: until here, speech heard by the first pass opens the pass
    _last_digit: int = 0  # leg samples at the end of the latest digit word
    _words: list[Word] = field(default_factory=list)
    _index: int = -1
    _armed: bool = False  # a payment phrase was heard: arm on the next slice
    _arm_at: float | None = None  # when the payment phrase ended (call's audio clock)
    _trigger: bool = False  # the first pass heard a digit run on this leg: open on the next slice
    _speech: bool = False  # the first pass heard something on this leg (opens the pass while armed)
    _since_partial: int = 0
    _pending_digits: int = 0  # digit words in the current segment's latest partial

    @property
    def open(self) -> bool:
        return self._recognizer is not None

    def arm(self, at: float | None = None) -> None:
        """A payment phrase that ended at `at` (call's audio clock) was heard on the call: for `wait_seconds`, the
        leg's next speech opens the pass; if this leg is already past `at` and heard speech since, it opens on the
        next slice and decodes from `at` (as far as its ring buffer reaches)."""
        if self.config.enabled:
            self._arm_at = at  # before the flag: `accept` (another thread) reads the flag first
            self._armed = True

    def noticed(self, text: str) -> None:
        """A first-pass result of this leg: a digit run opens the pass; any text is speech, which opens an armed
        pass (the ring buffer holds its start). A payment phrase arms the other legs (CallStream), not this one."""
        if not self.config.enabled or not text:
            return
        self._speech = True
        if count_digit_words(text) >= self.config.trigger_digits:
            self._trigger = True

    def accept(self, piece: bytes, fed: int) -> list[DigitReading]:
        """The slice `piece` (s16le) was decoded by the first pass; the leg has now been fed `fed` samples."""
        if not self.config.enabled:
            return []
        samples = len(piece) // 2
        began = time.thread_time()
        out: list[DigitReading] = []
        late: int | None = None
        if self._armed:
            self._armed_until = fed + round(self.config.wait_seconds * self.rate)
            self._armed = False
            late = self._late_start()
        speech, self._speech = self._speech, False
        if self._recognizer is None:
            if late is not None:
                self._open(fed - samples, late)
                out += self._decode(piece, fed)
            elif self._trigger or (speech and fed <= self._armed_until):
                self._open(fed - samples, fed - samples - round(self.config.lookback_seconds * self.rate))
                out += self._decode(piece, fed)
            self._remember(piece, fed, speech)
        else:
            self._remember(piece, fed, speech)
            out += self._decode(piece, fed)
        self._trigger = False
        if self._recognizer is not None:
            out += self._maybe_close(fed)
        if self._recognizer is not None or out:
            self.stats.cpu_seconds += time.thread_time() - began
        return out

    def finish(self) -> list[DigitReading]:
        """The leg ended: close an open session."""
        return self._close() if self._recognizer is not None else []

    # --- internals -------------------------------------------------------------------------------------------
    def _remember(self, piece: bytes, fed: int, speech: bool) -> None:
        self._ring.append((piece, fed))
        self._ring_samples += len(piece) // 2
        if speech:
            self._heard.append(fed)
        keep = round(self.config.rewind_seconds * self.rate)
        while self._ring and self._ring_samples - len(self._ring[0][0]) // 2 >= keep:
            self._ring_samples -= len(self._ring.popleft()[0]) // 2
        oldest = self._ring[0][1] - len(self._ring[0][0]) // 2 if self._ring else fed
        while self._heard and self._heard[0] <= oldest:
            self._heard.popleft()

    def _late_start(self) -> int | None:
        """Armed after the fact: the leg sample where the ring buffer reaches the payment phrase's end, when this
        leg is already past it and heard speech since (its answer is in the buffer); else None."""
        if self._arm_at is None or self._recognizer is not None or not self._ring:
            return None
        for piece, after in self._ring:
            if self.to_call_time(after / self.rate) > self._arm_at:
                start = after - len(piece) // 2
                return start if any(mark > start for mark in self._heard) else None
        return None

    def _open(self, position: int, replay_from: int) -> None:
        """Open a session at leg sample `position` (before the current slice), replaying the ring buffer's slices
        that end after leg sample `replay_from`."""
        import vosk

        recognizer = vosk.KaldiRecognizer(self.model, self.rate, json.dumps(list(DIGIT_GRAMMAR)))
        recognizer.SetWords(True)
        self._recognizer = recognizer
        replay = [piece for piece, after in self._ring if after > replay_from]
        self._base = position - sum(len(piece) // 2 for piece in replay)
        self._opened = position
        self._armed_until = -1  # the next payment phrase arms it again
        self._last_digit = position
        self._words = []
        self._since_partial = 0
        self._pending_digits = 0
        self._index += 1
        self.stats.sessions += 1
        ring = b"".join(replay)
        if ring:
            self.stats.audio_seconds += len(ring) / 2 / self.rate
            if recognizer.AcceptWaveform(ring):
                self._take(recognizer.Result())

    def _decode(self, piece: bytes, fed: int) -> list[DigitReading]:
        """Decode one slice. A segment ends (Vosk endpoint) → a reading; inside a long segment (a card read without
        pauses long enough for an endpoint) the partial result tells that digits are still being spoken."""
        samples = len(piece) // 2
        self.stats.audio_seconds += samples / self.rate
        if self._recognizer.AcceptWaveform(piece):
            self._since_partial = 0
            return [self._reading(final=False)] if self._take(self._recognizer.Result()) else []
        self._since_partial += samples
        if self._since_partial >= self.config.partial_every * self.rate:
            self._since_partial = 0
            partial = json.loads(self._recognizer.PartialResult()).get("partial", "")
            if count_digit_words(partial) > self._pending_digits:
                self._last_digit = fed  # a new digit word is being heard
            self._pending_digits = count_digit_words(partial)
        return []

    def _take(self, raw: str) -> bool:
        """Add a result's words to the session; True when it held a digit."""
        words = json.loads(raw).get("result", [])
        self._pending_digits = 0
        digit = False
        for w in words:
            start = self.to_call_time((self._base / self.rate) + float(w["start"]))
            end = self.to_call_time((self._base / self.rate) + float(w["end"]))
            self._words.append(Word(str(w["word"]), start, end, float(w.get("conf", 1.0))))
            if w["word"] in READING_DIGITS:
                digit = True
                self._last_digit = max(self._last_digit, self._base + round(float(w["end"]) * self.rate))
        return digit

    def _maybe_close(self, fed: int) -> list[DigitReading]:
        quiet = fed - self._last_digit
        if quiet >= self.config.idle_seconds * self.rate or fed - self._opened >= self.config.max_seconds * self.rate:
            return self._close()
        return []

    def _close(self) -> list[DigitReading]:
        self._take(self._recognizer.FinalResult())
        self._recognizer = None
        if not any(w.text in READING_DIGITS for w in self._words):
            return []
        return [self._reading(final=True)]

    def _reading(self, final: bool) -> DigitReading:
        words = tuple(self._words)
        self.stats.readings += 1
        return DigitReading(
            self.call_id, self.speaker, self.channel, self._index, words, words[0].start, words[-1].end, final
        )
