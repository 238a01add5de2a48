"""Digits of a digit-pass reading (rules.events.DigitReading) and how they overlap what the first pass found."""

from __future__ import annotations

from collections.abc import Sequence

from rules.events import Word

READING_DIGITS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
"""The words of the digit grammar (streams/digitpass.py) and their digits; anything else ("[unk]") splits segments."""

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
    return "".join(digits), tuple(b for b in boundaries if b < len(digits))


def overlaps(start: float, end: float, other_start: float, other_end: float,
             slack: float = OVERLAP_SLACK_SECONDS) -> bool:
    """True when [start, end] and [other_start, other_end] meet, allowing `slack` seconds between them."""
    return start <= other_end + slack and other_start <= end + slack
