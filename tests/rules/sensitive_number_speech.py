"""Test helpers for spoken numbers: say a digit string in a given style, and turn lines into call events."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from rules.events import AudioTick, CallEnded, CallStarted, Event, Speaker, Utterance, Word

EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
IT_DIGITS = ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove")
EN_TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
            "nineteen")
EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
FILLERS = ("uh", "um", "sorry", "let me see", "hold on", "and", "uh sorry let me see")
WORD_SECONDS = 0.35


def say_plain(digits: str, zero: str = "zero", names: Sequence[str] = EN_DIGITS) -> list[str]:
    """Digit by digit: "four one one one"."""
    return [zero if d == "0" else names[int(d)] for d in digits]


def say_repeats(digits: str, names: Sequence[str] = EN_DIGITS, double: str = "double",
                triple: str = "triple", zero: str = "oh") -> list[str]:
    """Runs of equal digits as "double"/"triple": 4111 → "four triple one"."""
    words: list[str] = []
    i = 0
    while i < len(digits):
        j = i
        while j < len(digits) and digits[j] == digits[i]:
            j += 1
        count = j - i
        name = zero if digits[i] == "0" else names[int(digits[i])]
        while count >= 3:
            words += [triple, name]
            count -= 3
        if count == 2:
            words += [double, name]
        elif count == 1:
            words.append(name)
        i = j
    return words


def say_pair(pair: str) -> list[str]:
    """Two digits as a pair: "45" → forty five, "05" → oh five, "10" → ten, "00" → oh oh."""
    tens, unit = int(pair[0]), int(pair[1])
    if tens == 0:
        return ["oh", "oh" if unit == 0 else EN_DIGITS[unit]]
    if tens == 1:
        return [EN_TEENS[unit]]
    return [EN_TENS[tens]] + ([EN_DIGITS[unit]] if unit else [])


def say_pairs(digits: str) -> list[str]:
    """Digits in pairs: "4532" → "forty five thirty two" (a trailing odd digit alone)."""
    words: list[str] = []
    for i in range(0, len(digits) - 1, 2):
        words += say_pair(digits[i : i + 2])
    if len(digits) % 2:
        words.append(EN_DIGITS[int(digits[-1])])
    return words


def say_grouped_with_fillers(digits: str, fillers: Sequence[str] = FILLERS, group: int = 4) -> list[str]:
    """Groups of four with fillers between: "four one one one uh one one one one sorry …"."""
    words: list[str] = []
    for n, i in enumerate(range(0, len(digits), group)):
        if n:
            words += fillers[(n - 1) % len(fillers)].split()
        words += say_plain(digits[i : i + group], zero="oh")
    return words


def say_random(digits: str, rng: random.Random) -> list[str]:
    """Each digit group (1–4 digits) in a random style, with random fillers between some groups."""
    words: list[str] = []
    i = 0
    while i < len(digits):
        size = rng.randint(1, 4)
        part = digits[i : i + size]
        style = rng.choice(("plain", "oh", "repeats", "pairs", "literal"))
        if style == "plain":
            words += say_plain(part)
        elif style == "oh":
            words += say_plain(part, zero="oh")
        elif style == "repeats":
            words += say_repeats(part)
        elif style == "pairs":
            words += say_pairs(part)
        else:
            words.append(part)
        if rng.random() < 0.3:
            words += rng.choice(FILLERS).split()
        i += size
    return words


@dataclass(frozen=True, slots=True)
class Line:
    """One utterance of a scripted call: who says which words, starting when."""

    speaker: Speaker
    words: tuple[str, ...]
    start: float | None = None


def line(speaker: str, text: str | Sequence[str], start: float | None = None) -> Line:
    """A Line from "customer"/"agent" and a text or word list."""
    words = tuple(text.split()) if isinstance(text, str) else tuple(w for t in text for w in t.split())
    return Line(Speaker(speaker), words, start)


def call_events(lines: Sequence[Line], call_id: str = "call-1", partials: bool = True, gap: float = 0.5,
                end_pause: float = 10.0, language: str = "en") -> list[Event]:
    """CallStarted, then per line word-by-word partials (if `partials`) and a final, AudioTicks, CallEnded."""
    events: list[Event] = [CallStarted(call_id, language=language)]
    clock = 0.0
    for index, ln in enumerate(lines):
        start = ln.start if ln.start is not None else clock + gap
        words = tuple(Word(w, start + i * WORD_SECONDS, start + (i + 1) * WORD_SECONDS) for i, w in enumerate(ln.words))
        end = words[-1].end if words else start
        channel = 0 if ln.speaker is Speaker.AGENT else 1
        if partials:
            for n in range(1, len(words)):
                events.append(Utterance(call_id, ln.speaker, channel, index, " ".join(w.text for w in words[:n]),
                                        words[:n], start, words[n - 1].end, False))
        events.append(Utterance(call_id, ln.speaker, channel, index, " ".join(ln.words), words, start, end, True))
        events.append(AudioTick(call_id, end))
        clock = end
    events.append(AudioTick(call_id, clock + end_pause))
    events.append(CallEnded(call_id, clock + end_pause + 1.0))
    return events
