"""Digits of a digit-pass reading (rules.events.DigitReading) and how they overlap what the first pass found."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from rules.events import Word

READING_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
"""The words of the digit grammar (streams/digitpass.py) and their digits; anything else ("[unk]") splits segments."""

READING_GAP_SECONDS = 2.0
"""Digit words further apart than this (end to start) belong to separate runs of a reading: one session of the
digit pass can hold a stray digit heard in other speech before the card is read."""
OVERLAP_SLACK_SECONDS = 1.0
"""Two card findings of one speaker whose times come within this of each other are about the same reading."""


def reading_digits(words: Sequence[Word]) -> tuple[str, tuple[int, ...]]:
    """The digits the words spell and the segment boundaries (digit offsets) where non-digit words stood."""
    digits: list[str] = []
    boundaries: list[int] = []
    for word in words:
        digit = READING_DIGITS.get(word.text.lower())
        if digit is None:
            if digits and (not boundaries or boundaries[-1] != len(digits)):
                boundaries.append(len(digits))
        else:
            digits.append(digit)
    return "".join(digits), tuple([b for b in boundaries if b < len(digits)])


class ReadingRun:
    """Digits of one run of a reading, the segment boundaries inside it, and the times of its first and last digit."""

    __slots__ = ("boundaries", "digits", "end", "start")

    def __init__(self, digits: str, boundaries: tuple[int, ...], start: float, end: float) -> None:
        self.digits: Final = digits
        self.boundaries: Final = boundaries
        self.start: Final = start
        self.end: Final = end


def reading_runs(words: Sequence[Word], gap: float = READING_GAP_SECONDS) -> list[ReadingRun]:
    """The reading's words cut into runs wherever two digit words are more than `gap` seconds apart."""
    runs: list[ReadingRun] = []
    group: list[Word] = []
    last_end: float | None = None
    for word in words:
        if word.text.lower() in READING_DIGITS:
            if last_end is not None and word.start - last_end > gap:
                runs.append(_run(group))
                group = []
            last_end = word.end
        group.append(word)
    if group:
        runs.append(_run(group))
    return [run for run in runs if run.digits]


def _run(group: Sequence[Word]) -> ReadingRun:
    digits, boundaries = reading_digits(group)
    timed = [w for w in group if w.text.lower() in READING_DIGITS]
    if not timed:
        return ReadingRun("", (), 0.0, 0.0)
    return ReadingRun(digits, boundaries, timed[0].start, timed[-1].end)


def overlaps(start: float, end: float, other_start: float, other_end: float,
             slack: float = OVERLAP_SLACK_SECONDS) -> bool:
    """True when [start, end] and [other_start, other_end] meet, allowing `slack` seconds between them."""
    return start <= other_end + slack and other_start <= end + slack
