"""The required_phrase kind: a speaker must say one of some phrases within a window from the call's start.

Outcomes: `said` (info) when it was said in time; `late` (default high) when said after the deadline;
`not_said` (the rule's severity) fired once the audio clock passes deadline + grace (any event's time counts:
AudioTick, an utterance's end, CallEnded) and timestamped AT the deadline. A call that ends before the deadline
without the phrase gets `not_said` at its end time (the caller never heard it). After `not_said`, a later match
still yields `late`. Partials may confirm `said` early, but only at threshold + partial_margin; each outcome is
emitted at most once. "In time" means the matched words end by the deadline. `not_said` reports the best
candidate heard before the deadline (similarity ≥ 0.5), taken from final transcripts, whose words carry real
times (a partial is a provisional hypothesis without word times); partials are matched only at their threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rules.events import AudioTick, CallEnded, Event, Utterance
from rules.findings import Finding, Severity
from rules.kinds.base import (
    SPEAKERS,
    CallState,
    attribution_note,
    check_choice,
    check_number,
    check_outcome_severities,
    check_unknown,
    considers,
    event_time,
    outcome_severity,
    redact_evidence,
)
from rules.kinds.matchers import (
    Matcher,
    check_concepts_param,
    check_matcher_params,
    describe,
    match_details,
    matcher_for,
)
from rules.matching import PhraseMatch
from rules.model import ParamError, RuleOutcome, RuleSpec

KIND = "required_phrase"
OUTCOMES = ("said", "late", "not_said")
PARAMS = (
    "speaker", "phrases", "patterns", "intent", "concepts", "window_seconds", "threshold", "partial_margin",
    "grace_seconds", "outcome_severity",
)
CANDIDATE_FLOOR = 0.5


class RequiredPhraseRule:
    """Per-call state of one required_phrase rule."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        params = spec.params
        self._speaker = str(params.get("speaker", "agent"))
        self._window = float(params.get("window_seconds", 30.0))
        self._threshold = float(params.get("threshold", 0.85))
        self._partial_threshold = min(1.0, self._threshold + float(params.get("partial_margin", 0.05)))
        self._grace = float(params.get("grace_seconds", 1.0))
        self._call = CallState()
        self._matcher: Matcher | None = None
        self._said: PhraseMatch | None = None
        self._late = False
        self._not_said_fired = False
        self._candidate: PhraseMatch | None = None

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[ParamError]:
        """Problems with a required_phrase rule's params."""
        return [
            *check_unknown(params, PARAMS),
            *check_matcher_params(params, "phrases", "patterns", required=True),
            *check_concepts_param(params),
            *check_choice(params, "speaker", (*SPEAKERS, "any")),
            *check_number(params, "window_seconds", 0.0, 86400.0),
            *check_number(params, "threshold", 0.5, 1.0),
            *check_number(params, "partial_margin", 0.0, 0.5),
            *check_number(params, "grace_seconds", 0.0, 60.0),
            *check_outcome_severities(params, OUTCOMES),
        ]

    @classmethod
    def feed_idle(cls, rules: Sequence[RequiredPhraseRule], event: Event) -> bool:
        """True (nothing else to do) when `feed` would surely return nothing and change no state: an AudioTick or an
        utterance, for rules already fed their call's start, whose phrase was said (or said late), or whose
        deadline is not due yet and who do not consider this utterance (another speaker); else False."""
        utterance = event if isinstance(event, Utterance) else None
        if utterance is None and not isinstance(event, AudioTick):
            return False
        for rule in rules:
            call, matcher = rule._call, rule._matcher
            if not call.started or call.ended or matcher is None:
                return False
            if not matcher.phrases or rule._said is not None or rule._late:
                continue
            if utterance is not None and considers(rule._speaker, utterance):
                return False
            if rule._not_said_fired:
                continue
            now = event_time(event)  # as _check_deadline: fires once the deadline and grace passed
            if now is not None and now >= rule._deadline + rule._grace:
                return False
        return True

    @property
    def _deadline(self) -> float:
        return self._call.started_at + self._window

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; findings for said/late/not_said as they become certain."""
        if not self._call.observe(event, self.spec):
            return []
        if self._matcher is None:
            params = self.spec.params
            intent = str(params.get("intent", self.spec.id))
            self._matcher = matcher_for(params, "phrases", "patterns", intent, self._call.language, self.spec.language)
        if not self._matcher.phrases:
            return []
        findings: list[Finding] = []
        if isinstance(event, Utterance) and self._said is None and not self._late:
            findings.extend(self._check_utterance(event))
        findings.extend(self._check_deadline(event))
        return findings

    def _check_utterance(self, utterance: Utterance) -> list[Finding]:
        if not considers(self._speaker, utterance) or self._matcher is None:
            return []
        needed = self._threshold if utterance.final else self._partial_threshold
        floor = self._floor(needed, utterance.final)
        match = self._matcher.best_in(utterance, floor=floor, near_misses=floor < needed)
        if match is None:
            return []
        if match.similarity < needed:
            if self._candidate is None or match.similarity > self._candidate.similarity:
                self._candidate = match
            return []
        if match.end <= self._deadline and not self._not_said_fired:
            self._said = match
            reason = f"said at {match.start:.1f} s, within the {self._window:g} s window"
            return [self._finding("said", Severity.INFO, utterance, match, reason)]
        self._late = True
        reason = f"said at {match.start:.1f} s, after the {self._window:g} s window (deadline {self._deadline:.1f} s)"
        return [self._finding("late", outcome_severity(self.spec, "late", Severity.HIGH), utterance, match, reason)]

    def _floor(self, needed: float, final: bool) -> float:
        """The lowest similarity that can still matter: `needed` to be said, or, for a final, to beat the best
        candidate so far (rounded down to 0.05 so matcher memos stay shared; never below CANDIDATE_FLOOR).
        Candidates come from finals only (a partial is a provisional hypothesis, not evidence), and only until
        the deadline fired (they are reported in `not_said`)."""
        if self._not_said_fired or not final:
            return needed
        beat = CANDIDATE_FLOOR if self._candidate is None else math.floor(self._candidate.similarity * 20) / 20
        return min(needed, max(CANDIDATE_FLOOR, beat))

    def _check_deadline(self, event: Event) -> list[Finding]:
        if self._said is not None or self._late or self._not_said_fired:
            return []
        now = event_time(event)
        ended = isinstance(event, CallEnded)
        if not ended and (now is None or now < self._deadline + self._grace):
            return []
        self._not_said_fired = True
        at = self._deadline if now is None else min(now, self._deadline)
        if ended and now is not None and now < self._deadline:
            why = f"the call ended at {now:.1f} s, before the {self._window:g} s window closed, without it"
        else:
            why = f"not said within the first {self._window:g} s"
        reason = f"{self._speaker} phrase {why}; {self._candidate_text()}"
        finding = Finding(
            call_id=self._call.call_id,
            rule_id=self.spec.id,
            kind=KIND,
            outcome="not_said",
            severity=outcome_severity(self.spec, "not_said", self.spec.severity),
            start=at,
            end=at,
            reason=reason,
            details={"window_seconds": self._window, "deadline": self._deadline},
        )
        if self._candidate is not None:
            finding = _with_candidate(finding, self._candidate, self._call.language)
        return [finding]

    def _candidate_text(self) -> str:
        if self._candidate is None:
            return "no candidate came close"
        c = self._candidate
        text = redact_evidence(c.text, self._call.language)
        return f"best candidate {text!r} at {c.start:.1f} s ({describe(c)})"

    def _finding(
        self, outcome: str, severity: Severity, utterance: Utterance, match: PhraseMatch, reason: str
    ) -> Finding:
        note = attribution_note(self._speaker, utterance)
        return Finding(
            call_id=utterance.call_id,
            rule_id=self.spec.id,
            kind=KIND,
            outcome=outcome,
            severity=severity,
            start=match.start,
            end=match.end,
            reason=f"{reason} ({describe(match)})" + (f"; {note}" if note else ""),
            evidence=redact_evidence(utterance.text, self._call.language),
            speaker=utterance.speaker,
            channel=utterance.channel,
            matched_phrase=match.phrase,
            similarity=match.similarity,
            details={
                "window_seconds": self._window, "deadline": self._deadline, "final": utterance.final,
                **match_details(match), **({"attribution_note": note} if note else {}),
            },
        )

    def outcome(self) -> RuleOutcome:
        """Passed when said in time; failed when late or not said; None when not applicable or still open."""
        if self._matcher is not None and not self._matcher.phrases:
            return RuleOutcome(self.spec.id, None, f"no phrases for call language {self._call.language!r}")
        if self._said is not None:
            return RuleOutcome(self.spec.id, True, f"said at {self._said.start:.1f} s")
        if self._late:
            return RuleOutcome(self.spec.id, False, f"said late (after {self._window:g} s)")
        if self._not_said_fired:
            return RuleOutcome(self.spec.id, False, f"not said within {self._window:g} s")
        return RuleOutcome(self.spec.id, None, "window still open")


def _with_candidate(finding: Finding, candidate: PhraseMatch, language: str) -> Finding:
    details = {**finding.details, "candidate_start": candidate.start}
    return Finding(
        call_id=finding.call_id,
        rule_id=finding.rule_id,
        kind=finding.kind,
        outcome=finding.outcome,
        severity=finding.severity,
        start=finding.start,
        end=finding.end,
        reason=finding.reason,
        evidence=redact_evidence(candidate.text, language),
        matched_phrase=candidate.phrase,
        similarity=candidate.similarity,
        details=details,
    )
