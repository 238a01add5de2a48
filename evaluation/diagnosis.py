"""Why a labelled finding was missed: did the ASR hear the spoken digits (a rules gap) or not (an ASR gap)?

Works on the raw recognized words but returns only counts and redacted text: no digit ever leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.analyze import TranscriptLine
from evaluation.corpus_labels import CallLabels, ExpectedFinding
from evaluation.synth import DIGIT_WORDS
from rules.digit_readings import READING_DIGITS
from rules.events import DigitReading, Event, Utterance

STRICT_DIGITS = {word: str(i) for i, word in enumerate(DIGIT_WORDS)} | {"oh": "0"}
HOMOPHONES = STRICT_DIGITS | {"for": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
SNIPPET_MARGIN = 4.0
CARD_LABEL = re.compile(r"\[card [^\]]*\]")


@dataclass(frozen=True, slots=True)
class DigitCheck:
    """How the ASR rendered a labelled digit string: edit distances of the digit words the first pass heard (strict,
    homophones) and of the digit pass's reading (None when the digit pass heard no digit there)."""

    labelled: int
    strict_distance: int
    homophone_distance: int
    digit_pass_distance: int | None = None

    def verdict(self) -> str:
        """One line naming the limit: rules (a pass heard all digits) or ASR (digits misheard or lost by both)."""
        second = self._digit_pass()
        if self.strict_distance == 0:
            return f"rules: ASR heard all {self.labelled} digits as digit words{second}"
        if self.homophone_distance == 0:
            return f"rules: ASR heard all {self.labelled} digits, some only as homophones (for/to/too/won/ate){second}"
        if self.digit_pass_distance == 0:
            return f"rules: the digit pass heard all {self.labelled} digits (first pass {self.strict_distance} edits)"
        return (
            f"ASR: {self.labelled} digits spoken, heard digit words {self.strict_distance} edits away "
            f"({self.homophone_distance} counting homophones){second}"
        )

    def _digit_pass(self) -> str:
        if self.digit_pass_distance is None:
            return "; digit pass heard none"
        return f"; digit pass {self.digit_pass_distance} edits away"

    def to_json(self) -> dict[str, Any]:
        return {
            "labelled_digits": self.labelled,
            "strict_edit_distance": self.strict_distance,
            "homophone_edit_distance": self.homophone_distance,
            "digit_pass_edit_distance": self.digit_pass_distance,
        }


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def labelled_turn(labels: CallLabels, expected: ExpectedFinding) -> Mapping[str, Any] | None:
    """The scripted turn an expectation points at (same start time), if any."""
    if expected.start is None:
        return None
    for turn in labels.turns:
        if abs(float(turn.get("start", -1.0)) - expected.start) < 0.002:
            return turn
    return None


def check_digits(labels: CallLabels, expected: ExpectedFinding, events: Sequence[Event]) -> DigitCheck | None:
    """Compare the digits spoken in the expectation's turn with the final words heard on that speaker's leg."""
    turn = labelled_turn(labels, expected)
    if turn is None:
        return None
    truth = [STRICT_DIGITS[w] for w in str(turn.get("text", "")).split() if w in DIGIT_WORDS]
    if not truth:
        return None
    start, end = float(turn["start"]) - 1.0, float(turn["end"]) + 3.0
    heard = [
        word.text.lower()
        for event in events
        if isinstance(event, Utterance) and event.final and event.speaker.value == turn.get("speaker")
        for word in event.words
        if start <= word.start <= end
    ]
    strict = [STRICT_DIGITS[w] for w in heard if w in STRICT_DIGITS]
    lenient = [HOMOPHONES[w] for w in heard if w in HOMOPHONES]
    second = digit_pass_digits(events, str(turn.get("speaker")), start, end)
    return DigitCheck(
        len(truth),
        edit_distance(truth, strict),
        edit_distance(truth, lenient),
        edit_distance(truth, second) if second else None,
    )


def digit_pass_digits(events: Sequence[Event], speaker: str, start: float, end: float) -> list[str]:
    """The digits of the digit pass's last reading per session of `speaker` (words starting in [start, end])."""
    latest: dict[tuple[int, int], DigitReading] = {}
    for event in events:
        if isinstance(event, DigitReading) and event.speaker.value == speaker:
            latest[(event.channel, event.index)] = event
    return [
        READING_DIGITS[word.text]
        for reading in latest.values()
        for word in reading.words
        if word.text in READING_DIGITS and start <= word.start <= end
    ]


def pass_distances(
    truth: str, speaker: str, start: float, end: float, events: Sequence[Event]
) -> tuple[int, int | None]:
    """Edit distances to `truth` of the first pass's strict digit words and of the digit pass's reading (None when
    it heard no digit) on `speaker`'s leg, for words from 1 s before `start` to 3 s after `end` (as check_digits)."""
    start, end = start - 1.0, end + 3.0
    heard = [
        STRICT_DIGITS[word.text.lower()]
        for event in events
        if isinstance(event, Utterance) and event.final and event.speaker.value == speaker
        for word in event.words
        if start <= word.start <= end and word.text.lower() in STRICT_DIGITS
    ]
    second = digit_pass_digits(events, speaker, start, end)
    return edit_distance(truth, heard), edit_distance(truth, second) if second else None


def snippet(transcript: Sequence[TranscriptLine], start: float | None, end: float | None, width: int = 200) -> str:
    """The redacted transcript lines near [start, end] (the whole call when untimed), shortened to `width`."""
    lines = [
        line
        for line in transcript
        if start is None
        or (line.end >= start - SNIPPET_MARGIN and line.start <= (end if end is not None else start) + SNIPPET_MARGIN)
    ]
    text = " / ".join(f"{line.speaker.value[0].upper()}: {mask_digits(line.text)}" for line in lines or transcript)
    return text if len(text) <= width else text[: width - 1] + "…"


def mask_digits(text: str) -> str:
    """`text` (already redacted) with every remaining digit word or numeral shown as "#": a lone short code that
    the redactor left (no payment context was heard) must not reach a report either."""
    words = CARD_LABEL.sub("[card]", text).split(" ")
    return " ".join("#" if word in STRICT_DIGITS or any(ch.isdigit() for ch in word) else word for word in words)
