"""The `bank_number` rule kind: IBANs, US routing numbers and account numbers spoken on a call (rules.bank_numbers).

Each utterance of the watched `speaker` is searched (a partial only for IBANs and routing numbers followed by
another word: its last run may still grow); a final of the same speaker that starts
within `continuation_gap_seconds` of that speaker's previous final is searched joined to it, so an IBAN read in two
breaths is found (reported on the second utterance). Outcomes, one per number and speaker: `iban_detected`,
`routing_detected`, `account_detected` (the rule's severity); `no_bank_numbers` (info) at CallEnded on a clean
call. Evidence is redacted; details carry the kind, country (IBAN), length and last four characters, never the
number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rules.bank_numbers import BankNumber, find_bank_numbers
from rules.events import CallEnded, Event, Utterance
from rules.findings import Finding, Severity
from rules.kinds.base import SPEAKERS, CallState, check_choice, check_number, check_unknown, redact_evidence
from rules.model import ParamError, RuleOutcome, RuleSpec
from rules.spoken_numbers import split_words

KIND = "bank_number"
DETECTORS = {"iban": "iban_detected", "routing": "routing_detected", "account": "account_detected"}
PARAMS = ("detectors", "speaker", "continuation_gap_seconds")


class BankNumberRule:
    """Per-call state of one bank_number rule."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        params = spec.params
        self._detectors = tuple(params.get("detectors", tuple(DETECTORS)))
        self._speaker = str(params.get("speaker", "any"))
        self._gap = float(params.get("continuation_gap_seconds", 4.0))
        self._call = CallState()
        self._previous: dict[str, tuple[list[str], float]] = {}
        """Per speaker: the words and end time of their last final."""
        self._reported: set[tuple[str, str, str]] = set()
        self._count = 0

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[ParamError]:
        """Problems with a bank_number rule's params."""
        errors = [
            *check_unknown(params, PARAMS),
            *check_choice(params, "speaker", (*SPEAKERS, "any")),
            *check_number(params, "continuation_gap_seconds", 0.0, 60.0),
        ]
        detectors = params.get("detectors")
        if detectors is not None and (
            not isinstance(detectors, list) or not detectors or any(d not in DETECTORS for d in detectors)
        ):
            errors.append(ParamError("detectors", f"expected a non-empty list of {', '.join(DETECTORS)}"))
        return errors

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; one finding per bank number first heard in it."""
        if not self._call.observe(event, self.spec):
            return []
        if isinstance(event, Utterance) and (self._speaker == "any" or event.speaker == self._speaker):
            return self._check(event)
        if isinstance(event, CallEnded) and self._count == 0:
            return [self._clean(event)]
        return []

    def _check(self, utterance: Utterance) -> list[Finding]:
        words = [w.text for w in utterance.words] if utterance.words else split_words(utterance.text)
        speaker = str(utterance.speaker)
        before: list[str] = []
        previous = self._previous.get(speaker)
        if previous is not None and utterance.start - previous[1] <= self._gap:
            before = previous[0]
        if utterance.final:
            self._previous[speaker] = (words, utterance.end)
        findings: list[Finding] = []
        for number in find_bank_numbers([*before, *words], self._call.language):
            key = (speaker, number.kind, number.value)
            if number.kind not in self._detectors or number.last_word < len(before) or key in self._reported:
                continue
            if not utterance.final and (number.kind == "account" or number.last_word == len(before) + len(words) - 1):
                continue  # a partial's last run may still grow: judged when it closes (or on the final)
            self._reported.add(key)
            self._count += 1
            findings.append(self._finding(utterance, number))
        return findings

    def _finding(self, utterance: Utterance, number: BankNumber) -> Finding:
        details: dict[str, Any] = {
            "bank_kind": number.kind, "length": len(number.value), "last4": number.value[-4:],
            "final": utterance.final,
        }
        if number.kind == "iban":
            details["country"] = number.value[:2]
        name = {"iban": "an IBAN", "routing": "a routing number", "account": "an account number"}[number.kind]
        return Finding(
            call_id=utterance.call_id,
            rule_id=self.spec.id,
            kind=KIND,
            outcome=DETECTORS[number.kind],
            severity=self.spec.severity,
            start=utterance.start,
            end=utterance.end,
            reason=f"{utterance.speaker.value} read {name} {number.masked} at {utterance.start:.1f} s",
            evidence=redact_evidence(utterance.text, self._call.language),
            speaker=utterance.speaker,
            channel=utterance.channel,
            details=details,
        )

    def _clean(self, ended: CallEnded) -> Finding:
        return Finding(
            call_id=ended.call_id, rule_id=self.spec.id, kind=KIND, outcome="no_bank_numbers",
            severity=Severity.INFO, start=ended.at, end=ended.at, reason="no bank account number was spoken",
        )

    def outcome(self) -> RuleOutcome:
        """Failed when a bank number was spoken; passed otherwise."""
        if self._count:
            return RuleOutcome(self.spec.id, False, f"{self._count} bank number(s) spoken")
        return RuleOutcome(self.spec.id, True, "no bank numbers")
