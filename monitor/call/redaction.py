"""A call's one redaction step: transcript lines, and findings' texts in the call's payment/security-code context.

Rule kinds redact their evidence without the call's history (a lone "seven three seven" is not card data by
itself); quoted after an agent's security-code prompt it is a CVV. So every finding leaves the call through
`CallRedaction.finding`, which masks the spoken numbers of its texts (reason, evidence, string details) that the
call's `Redactor` would mask in a transcript line at that time. Written digits are the rule's own (thresholds,
similarities) or already-masked labels ("[card ••••1111]"), and are left alone.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from rules.events import DigitReading, Utterance
from rules.findings import Finding
from rules.redact import NUMBER_MASK, PAYMENT_MASK_MIN_DIGITS, Redacted, RedactedWords, Redactor
from rules.spoken_numbers import parse_tokens, split_words, tokenize

EVENT_LOG_MASK = "[number]"
"""What a masked word's text becomes in an event log (`analyze --events-out`, the stored event logs)."""


@dataclass(frozen=True, slots=True)
class RedactedWord:
    """One word of a redacted line with its audio span: a masked run of spoken numbers is ONE word, its mask."""

    text: Redacted
    start: float
    end: float
    confidence: float


@dataclass(frozen=True, slots=True)
class RedactedLine:
    """A transcript line as it may leave the call: its redacted text and, when the recognizer timed its words,
    those words redacted the same way (joined by spaces they give `text`)."""

    text: Redacted
    words: tuple[RedactedWord, ...] = ()


class CallRedaction:
    """Feed it every utterance of the call in audio-time order, then its findings (see the module docstring)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.redactor = Redactor(lang=language)

    def utterance(self, utterance: Utterance) -> Redacted:
        """The redacted text of a transcript line (updates the call's context)."""
        return self.line(utterance).text

    def line(self, utterance: Utterance) -> RedactedLine:
        """The redacted transcript line with its redacted timed words (updates the call's context): call it once
        per utterance, in audio-time order."""
        return self.line_and_event(utterance)[0]

    def line_and_event(self, utterance: Utterance) -> tuple[RedactedLine, Utterance]:
        """`line(utterance)` and the utterance as a stored event log keeps it (monitor/store event logs, the
        `analyze --events-out` format): its text redacted and every masked word's text "[number]", word times
        kept. One redaction step for both (call it instead of `line`, once per utterance, in audio-time order)."""
        words = [w.text for w in utterance.words] if utterance.words else split_words(utterance.text)
        result = self.redactor.redact(
            words, speaker=str(utterance.speaker), start=utterance.start, end=utterance.end, final=utterance.final
        )
        masked = set(result.masked)
        event = dataclasses.replace(
            utterance,
            text=str(result.text),
            words=tuple(
                dataclasses.replace(w, text=EVENT_LOG_MASK) if i in masked else w for i, w in enumerate(utterance.words)
            ),
        )
        return RedactedLine(result.text, _timed_words(utterance, result)), event

    def _min_digits(self, spans: list[tuple[float, float]]) -> int | None:
        """The shortest spoken run to mask in text about speech in `spans` (None: no context, nothing to add)."""
        contexts = [self.redactor.context(start, end) for start, end in spans]
        if any(cvv for cvv, _ in contexts):
            return 1
        return PAYMENT_MASK_MIN_DIGITS if any(payment for _, payment in contexts) else None

    def finding(self, finding: Finding) -> Finding:
        """`finding` with the spoken numbers of its texts masked as the call's context requires."""
        min_digits = self._min_digits([(finding.start, finding.end)])
        if min_digits is None:
            return finding
        changes: dict[str, Any] = {}
        for name in ("reason", "evidence"):
            text = getattr(finding, name)
            masked = mask_spoken_numbers(text, self.language, min_digits)
            if masked != text:
                changes[name] = masked
        details = _mask_strings(finding.details, self.language, min_digits)
        if details != finding.details:
            changes["details"] = details
        return dataclasses.replace(finding, **changes) if changes else finding

    def report(self, report: dict[str, Any]) -> dict[str, Any]:
        """The call's report with each finding's (and each item's, by its findings) spoken numbers masked as the
        context of that finding requires; entries without times are judged against the whole call."""
        spans = {f.get("finding_id"): (f.get("start"), f.get("end")) for f in report.get("findings", ())}
        whole = (-math.inf, math.inf)

        def masked(entry: Any, entry_spans: list[tuple[Any, Any]]) -> Any:
            timed = [(s, e) if isinstance(s, float | int) and isinstance(e, float | int) else whole
                     for s, e in entry_spans or [whole]]
            min_digits = self._min_digits(timed)
            return entry if min_digits is None else _mask_strings(entry, self.language, min_digits)

        out = dict(report)
        if isinstance(report.get("findings"), list):
            out["findings"] = [masked(f, [spans[f.get("finding_id")]]) for f in report["findings"]]
        if isinstance(report.get("items"), list):
            out["items"] = [
                masked(item, [spans[i] for i in item.get("finding_ids", ()) if i in spans])
                for item in report["items"]
            ]
        return out


def redact_digit_reading(reading: DigitReading) -> DigitReading:
    """The digit pass's reading as an event log keeps it: every word masked (it holds nothing but digits)."""
    return dataclasses.replace(reading, words=tuple(dataclasses.replace(w, text=EVENT_LOG_MASK) for w in reading.words))


def _timed_words(utterance: Utterance, result: RedactedWords) -> tuple[RedactedWord, ...]:
    """The utterance's timed words as the redactor rendered them (rules.redact._render): a masked run becomes one
    word, its mask or card label, spanning the run. None at all if they would not give the redacted text exactly
    (the line then leaves without word times rather than with words that were not redacted)."""
    if not utterance.words:
        return ()
    masked = set(result.masked)
    labelled = {run.first_word for run in result.runs if run.first_word in masked}
    groups: list[list[int]] = []
    for index in range(len(utterance.words)):
        if index in masked and index - 1 in masked and index not in labelled and groups:
            groups[-1].append(index)
        else:
            groups.append([index])
    rest = str(result.text)
    out: list[RedactedWord] = []
    for group in groups:
        first, last = utterance.words[group[0]], utterance.words[group[-1]]
        if group[0] in masked:
            size = rest.index("]") + 1 if rest.startswith("[") and "]" in rest else len(rest)
        else:
            size = len(first.text)
        text, rest = rest[:size], rest[size:].removeprefix(" ")
        if group[0] not in masked and text != first.text:
            return ()
        confidence = min(utterance.words[i].conf for i in group)
        out.append(RedactedWord(Redacted(text), first.start, last.end, confidence))
    if rest or " ".join(word.text for word in out) != result.text:
        return ()
    return tuple(out)


def mask_spoken_numbers(text: str, language: str, min_digits: int) -> Redacted:
    """`text` with every run of at least `min_digits` digits spoken in words masked; written digits stay."""
    words = split_words(text)
    masked: set[int] = set()
    for run in parse_tokens(tokenize(words), language):
        spoken = not any(ch.isdigit() for i in run.number_words for ch in words[i])
        if spoken and len(run.digits) >= min_digits:
            masked.update(run.words)
    if not masked:
        return Redacted(text)
    out = [NUMBER_MASK if i in masked else w for i, w in enumerate(words) if i not in masked or i - 1 not in masked]
    return Redacted(" ".join(out))


def _mask_strings(value: Any, language: str, min_digits: int) -> Any:
    if isinstance(value, str):
        return mask_spoken_numbers(value, language, min_digits)
    if isinstance(value, dict):
        return {k: _mask_strings(v, language, min_digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_strings(v, language, min_digits) for v in value)
    return value
