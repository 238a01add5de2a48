"""Redaction: the one place digits are masked before any text leaves the engine (evidence, logs, alerts, storage).

Policy (conservative: masking a phone number is fine, leaking card digits is not):
- Any written or spoken run of ≥ 4 digits is masked completely ("four one one one" and "4111" alike).
  A run that is exactly a Luhn-valid PAN shows as "[card ••••1111]" (last four only); everything else "[number]".
- In a partial transcript, a run still open at the end is masked from 3 digits on (it may grow into a card).
- After a security-code prompt ("security code", "cvv", "codice di sicurezza", …) every run that follows it in the
  same text is masked whatever its length; with a `Redactor`, also every run spoken in the next
  `cvv_window_seconds` by anyone (the answer usually comes in the next utterance, on the other leg).
- With a `Redactor`, a run that continues a run left open at the end of the same speaker's previous final
  utterance (within `continuation_gap_seconds`) is masked whatever its length.
- With a `Redactor`, every run of ≥ 2 digits is masked within `payment_window_seconds` (60) of a payment context:
  a payment or security-code phrase ("card", "pay", "security code", …) or a masked run of ≥ 12 digits (a card
  number), on any leg, partial or final. Real ASR garbles prompts ("…security … on the back") and legs are
  transcribed in parallel (an answer can arrive before its prompt), so the short code that follows a card
  number is masked even when no prompt was recognized in time.
- Lone digit words ("one of them") are left alone except in the stateful cases above.
- Bank numbers (rules.bank_numbers: an IBAN with its letters, a routing number, an account number in context)
  are masked whole like a card, "[iban ••••5432]"; with a `Redactor` they open a payment context too. A country
  code and two digits followed by more characters that make no valid IBAN (half of one, read in two breaths, or
  one still being read at the end of a partial) is masked as "[number]".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NewType

from rules.bank_numbers import BankNumber, scan_bank_numbers
from rules.cards import DEFAULT_CONTEXT, find_pan, phrase_ends
from rules.events import Utterance
from rules.spoken_numbers import DigitRun, Token, parse_tokens, split_words, tokenize

MASK_MIN_DIGITS = 4
PAYMENT_MASK_MIN_DIGITS = 2
CARD_LIKE_DIGITS = 12
OPEN_PARTIAL_MASK_MIN_DIGITS = 3
NUMBER_MASK = "[number]"

Redacted = NewType("Redacted", str)
"""Text that went through this module's masking: what outward fields (transcript lines, evidence) must hold."""


@dataclass(frozen=True, slots=True)
class RedactedWords:
    """Redacted text plus which source words were masked (indices into the input words)."""

    text: Redacted
    masked: tuple[int, ...]
    runs: tuple[DigitRun, ...] = ()
    bank: tuple[BankNumber, ...] = ()


def _cvv_phrases(lang: str) -> tuple[str, ...]:
    key = lang.lower().split("-")[0]
    return DEFAULT_CONTEXT["cvv"].get(key, DEFAULT_CONTEXT["cvv"]["en"])


def _payment_phrases(lang: str) -> tuple[str, ...]:
    key = lang.lower().split("-")[0]
    return DEFAULT_CONTEXT["payment"].get(key, DEFAULT_CONTEXT["payment"]["en"])


def _card_like(runs: Sequence[DigitRun]) -> bool:
    return any(len(run.digits) >= CARD_LIKE_DIGITS for run in runs)


def _label(run: DigitRun, partial: bool) -> str:
    pan = find_pan(run.digits, run.segment_starts, open_end=partial and run.open_end)
    if pan is not None and pan.start == 0 and pan.end == len(run.digits):
        return pan.masked
    return NUMBER_MASK


def _must_mask(
    run: DigitRun, partial: bool, after_cvv_prompt: bool, mask_all: bool, continues: bool, min_digits: int
) -> bool:
    if mask_all or after_cvv_prompt or (continues and run.open_start):
        return True
    if run.weak:
        return False
    if partial and run.open_end and len(run.digits) >= OPEN_PARTIAL_MASK_MIN_DIGITS:
        return True
    return len(run.digits) >= min_digits


def redact_words(
    words: Sequence[str],
    lang: str = "en",
    *,
    partial: bool = False,
    continues_run: bool = False,
    mask_all_numbers: bool = False,
    extra_masked: Sequence[int] = (),
    cvv_phrases: Sequence[str] | None = None,
    min_digits: int = MASK_MIN_DIGITS,
) -> RedactedWords:
    """Mask the digit runs of `words` per the module policy; `extra_masked` word indices are masked too.

    `continues_run`: a run at the very start continues one of a previous utterance (mask it whatever its length).
    `mask_all_numbers`: mask every run, even lone digit words (e.g. right after a security-code prompt).
    `min_digits`: runs this long (not lone digit words) are masked (4; 2 in a payment context).
    """
    tokens = tokenize(words)
    runs = parse_tokens(tokens, lang, continues=continues_run)
    return redact_parsed(
        words, tokens, runs, lang, partial=partial, continues_run=continues_run, mask_all_numbers=mask_all_numbers,
        extra_masked=extra_masked, cvv_phrases=cvv_phrases, min_digits=min_digits,
    )


def redact_parsed(
    words: Sequence[str],
    tokens: Sequence[Token],
    runs: Sequence[DigitRun],
    lang: str = "en",
    *,
    partial: bool = False,
    continues_run: bool = False,
    mask_all_numbers: bool = False,
    extra_masked: Sequence[int] = (),
    cvv_phrases: Sequence[str] | None = None,
    min_digits: int = MASK_MIN_DIGITS,
) -> RedactedWords:
    """`redact_words` for words already tokenized (`tokenize(words)`) and parsed (`parse_tokens(tokens, lang,
    continues=continues_run)`), so callers that parsed them anyway do not parse twice."""
    prompt_ends = [] if mask_all_numbers else phrase_ends([(t.text, t.word) for t in tokens],
                                                          cvv_phrases or _cvv_phrases(lang))
    first_prompt = prompt_ends[0] if prompt_ends else None
    labels: dict[int, str] = {}
    masked: set[int] = set()
    for run in runs:
        after_prompt = first_prompt is not None and run.first_word > first_prompt
        if _must_mask(run, partial, after_prompt, mask_all_numbers, continues_run, min_digits):
            fragment = continues_run and run.open_start  # part of a longer number: never labelled as a card
            labels[run.first_word] = NUMBER_MASK if fragment else _label(run, partial)
            masked.update(run.words)
    scan = scan_bank_numbers(words, lang, runs, partial=partial)
    bank = scan.numbers
    for number in bank:  # an IBAN or routing/account number: masked whole, letters too, labelled like a card
        for index in number.words:
            labels.pop(index, None)
        labels[number.first_word] = number.masked
        masked.update(number.words)
    for index in scan.possible_iban:  # half an IBAN, or one misheard: masked without a label
        labels.pop(index, None)
        masked.add(index)
    for index in extra_masked:
        if 0 <= index < len(words):
            masked.add(index)
    return RedactedWords(_render(words, masked, labels), tuple(sorted(masked)), tuple(runs), tuple(bank))


def _render(words: Sequence[str], masked: set[int], labels: dict[int, str]) -> Redacted:
    out: list[str] = []
    for index, word in enumerate(words):
        if index not in masked:
            out.append(word)
        elif index in labels:
            out.append(labels[index])
        elif index - 1 not in masked:
            out.append(NUMBER_MASK)
    return Redacted(" ".join(out))


def redact_text(text: str, lang: str = "en", *, partial: bool = False) -> Redacted:
    """`text` with digit runs masked per the module policy (stateless; whitespace is normalized)."""
    return redact_words(split_words(text), lang, partial=partial).text


@dataclass(slots=True)
class _SpeakerState:
    open_run_end: float | None = None


@dataclass(slots=True)
class Redactor:
    """Per-call redaction state: security-code prompts and runs left open across utterances.

    Feed it every utterance of the call (partials and finals, all legs) in order; only finals update state.
    """

    lang: str = "en"
    cvv_window_seconds: float = 30.0
    continuation_gap_seconds: float = 4.0
    cvv_phrases: tuple[str, ...] | None = None
    payment_window_seconds: float = 60.0
    _speakers: dict[str, _SpeakerState] = field(default_factory=dict)
    _cvv_prompt_at: float | None = None
    _payment_at: float | None = None

    def redact(self, words: Sequence[str], *, speaker: str, start: float, end: float, final: bool) -> RedactedWords:
        """Redact one utterance's words, spoken by `speaker` between `start` and `end` (audio seconds)."""
        state = self._speakers.setdefault(speaker, _SpeakerState())
        continues = state.open_run_end is not None and start - state.open_run_end <= self.continuation_gap_seconds
        in_cvv_window = self._cvv_prompt_at is not None and start - self._cvv_prompt_at <= self.cvv_window_seconds
        in_payment = self._payment_at is not None and start - self._payment_at <= self.payment_window_seconds
        phrases = self.cvv_phrases or _cvv_phrases(self.lang)
        result = redact_words(
            words, self.lang, partial=not final, continues_run=continues, mask_all_numbers=in_cvv_window,
            cvv_phrases=phrases, min_digits=PAYMENT_MASK_MIN_DIGITS if in_payment else MASK_MIN_DIGITS,
        )
        tokens = tokenize(words)
        pairs = [(t.text, t.word) for t in tokens]
        prompted = bool(phrase_ends(pairs, phrases))
        if prompted or phrase_ends(pairs, _payment_phrases(self.lang)) or _card_like(result.runs) or result.bank:
            self._payment_at = max(end, self._payment_at or end)
        if final:
            last = result.runs[-1] if result.runs else None
            state.open_run_end = end if last is not None and last.open_end else None
            if prompted:
                self._cvv_prompt_at = end
        return result

    def context(self, start: float, end: float) -> tuple[bool, bool]:
        """(in a security-code window, in a payment window) for speech between `start` and `end`; no state change."""
        cvv = self._cvv_prompt_at is not None and self._cvv_prompt_at <= end
        in_cvv = cvv and start - (self._cvv_prompt_at or 0.0) <= self.cvv_window_seconds
        in_payment = self._payment_at is not None and start - self._payment_at <= self.payment_window_seconds
        return in_cvv, in_payment

    def redact_utterance(self, utterance: Utterance) -> Redacted:
        """The redacted text of an Utterance event (its words when present, else its text)."""
        words = [w.text for w in utterance.words] if utterance.words else split_words(utterance.text)
        return self.redact(
            words, speaker=str(utterance.speaker), start=utterance.start, end=utterance.end, final=utterance.final
        ).text
