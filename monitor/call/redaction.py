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
from typing import Any

from rules.events import Utterance
from rules.findings import Finding
from rules.redact import NUMBER_MASK, PAYMENT_MASK_MIN_DIGITS, Redacted, Redactor
from rules.spoken_numbers import parse_tokens, split_words, tokenize


class CallRedaction:
    """Feed it every utterance of the call in audio-time order, then its findings (see the module docstring)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.redactor = Redactor(lang=language)

    def utterance(self, utterance: Utterance) -> Redacted:
        """The redacted text of a transcript line (updates the call's context)."""
        return self.redactor.redact_utterance(utterance)

    def finding(self, finding: Finding) -> Finding:
        """`finding` with the spoken numbers of its texts masked as the call's context requires."""
        in_cvv, in_payment = self.redactor.context(finding.start, finding.end)
        if not (in_cvv or in_payment):
            return finding
        min_digits = 1 if in_cvv else PAYMENT_MASK_MIN_DIGITS
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
        """The call's report with spoken numbers masked as anywhere in the call the context required."""
        in_cvv, in_payment = self.redactor.context(-math.inf, math.inf)
        if not (in_cvv or in_payment):
            return report
        masked: dict[str, Any] = _mask_strings(report, self.language, 1 if in_cvv else PAYMENT_MASK_MIN_DIGITS)
        return masked


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
