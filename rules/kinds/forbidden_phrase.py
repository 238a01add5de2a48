"""The forbidden_phrase kind: spot phrases a speaker must not say (guarantees, threats) or that must be logged.

Each occurrence fires once: a partial fires only at threshold + partial_margin and its final does not fire
again (tracked per channel and utterance index). The outcome name is configurable (`outcome`, default
`forbidden_said`); with `violation: false` the rule only logs (e.g. data-subject requests) and never fails a call.
At CallEnded a rule that never fired emits one `absent` info finding, so reports carry its verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rules.events import AudioTick, CallEnded, Event, Utterance
from rules.findings import Finding, Severity
from rules.kinds.base import (
    SPEAKERS,
    CallState,
    check_bool,
    check_choice,
    check_number,
    check_unknown,
    redact_evidence,
    speaker_matches,
)
from rules.kinds.matchers import (
    Matcher,
    check_concepts_param,
    check_matcher_params,
    describe,
    match_details,
    matcher_for,
)
from rules.matching import TextView, utterance_layout
from rules.model import ParamError, RuleOutcome, RuleSpec

KIND = "forbidden_phrase"
PARAMS = (
    "speaker", "phrases", "patterns", "intent", "concepts", "threshold", "partial_margin", "outcome", "violation",
    "max_findings",
)
_OUTCOME_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ForbiddenPhraseRule:
    """Per-call state of one forbidden_phrase rule."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        params = spec.params
        self._speaker = str(params.get("speaker", "agent"))
        self._threshold = float(params.get("threshold", 0.85))
        self._partial_threshold = min(1.0, self._threshold + float(params.get("partial_margin", 0.05)))
        self._outcome = str(params.get("outcome", "forbidden_said"))
        self._violation = bool(params.get("violation", True))
        self._max_findings = int(params.get("max_findings", 20))
        self._call = CallState()
        self._matcher: Matcher | None = None
        self._fired_utterances: set[tuple[int, int]] = set()
        self._count = 0
        self._ready = False
        """True once fed the call's start (matcher set), until its end: feed_idle may then answer for this rule."""

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[ParamError]:
        """Problems with a forbidden_phrase rule's params."""
        errors = [
            *check_unknown(params, PARAMS),
            *check_matcher_params(params, "phrases", "patterns", required=True),
            *check_concepts_param(params),
            *check_choice(params, "speaker", (*SPEAKERS, "any")),
            *check_number(params, "threshold", 0.5, 1.0),
            *check_number(params, "partial_margin", 0.0, 0.5),
            *check_number(params, "max_findings", 1, 1000),
            *check_bool(params, "violation"),
        ]
        outcome = params.get("outcome")
        if outcome is not None and (not isinstance(outcome, str) or not _OUTCOME_NAME.match(outcome)):
            errors.append(ParamError("outcome", f"expected a snake_case outcome name, got {outcome!r}"))
        if outcome == "absent":
            errors.append(ParamError("outcome", "'absent' is reserved for the compliant outcome"))
        return errors

    @classmethod
    def feed_idle(cls, rules: Sequence[ForbiddenPhraseRule], event: Event) -> bool:
        """True (nothing else to do) when `event` is an AudioTick, or an utterance none of `rules` can match,
        for rules already fed their call's start (so `feed` would change no state); else False."""
        utterance = event if isinstance(event, Utterance) else None
        if utterance is None and not isinstance(event, AudioTick):
            return False
        view: TextView | None = None
        for rule in rules:
            matcher = rule._matcher
            if not rule._ready or matcher is None:
                return False
            if (  # the rule may fire: its speaker (a StrEnum equals its value), phrases, below the limit, not fired
                utterance is not None
                and (rule._speaker == "any" or utterance.speaker == rule._speaker)
                and matcher.phrases
                and rule._count < rule._max_findings
                and (utterance.channel, utterance.index) not in rule._fired_utterances
            ):
                if matcher.surely_unmatched(utterance):
                    continue
                view = view or utterance_layout(utterance)
                if not matcher.cannot_match(view):
                    return False
        return True

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; one finding per occurrence of a phrase."""
        if not self._call.observe(event, self.spec):
            return []
        if self._matcher is None:
            params = self.spec.params
            intent = str(params.get("intent", self._outcome))
            self._matcher = matcher_for(params, "phrases", "patterns", intent, self._call.language, self.spec.language)
        self._ready = not self._call.ended
        if not self._matcher.phrases:
            return []
        if isinstance(event, Utterance):
            return self._check_utterance(event)
        if isinstance(event, CallEnded) and self._count == 0:
            return [self._absent(event)]
        return []

    def _check_utterance(self, utterance: Utterance) -> list[Finding]:
        key = (utterance.channel, utterance.index)
        if (
            self._matcher is None
            or key in self._fired_utterances
            or self._count >= self._max_findings
            or not speaker_matches(self._speaker, utterance.speaker)
        ):
            return []
        needed = self._threshold if utterance.final else self._partial_threshold
        match = self._matcher.best_in(utterance, floor=needed)
        if match is None:
            return []
        self._fired_utterances.add(key)
        self._count += 1
        severity = self.spec.severity
        said = redact_evidence(match.text, self._call.language)
        return [
            Finding(
                call_id=utterance.call_id,
                rule_id=self.spec.id,
                kind=KIND,
                outcome=self._outcome,
                severity=severity,
                start=match.start,
                end=match.end,
                reason=(
                    f"{utterance.speaker.value} said {said!r} at {match.start:.1f} s "
                    f"({describe(match)})"
                ),
                evidence=redact_evidence(utterance.text, self._call.language),
                speaker=utterance.speaker,
                channel=utterance.channel,
                matched_phrase=match.phrase,
                similarity=match.similarity,
                details={"final": utterance.final, "violation": self._violation, **match_details(match)},
            )
        ]

    def _absent(self, ended: CallEnded) -> Finding:
        return Finding(
            call_id=ended.call_id,
            rule_id=self.spec.id,
            kind=KIND,
            outcome="absent",
            severity=Severity.INFO,
            start=ended.at,
            end=ended.at,
            reason=f"none of the {len(self._matcher.phrases) if self._matcher else 0} phrases or patterns was said",
            details={"violation": self._violation},
        )

    def outcome(self) -> RuleOutcome:
        """Failed when a violation phrase was said; passed otherwise; None when no phrases for the language."""
        if self._matcher is not None and not self._matcher.phrases:
            return RuleOutcome(self.spec.id, None, f"no phrases for call language {self._call.language!r}")
        if self._count and self._violation:
            return RuleOutcome(self.spec.id, False, f"{self._outcome} ×{self._count}")
        if self._count:
            return RuleOutcome(self.spec.id, True, f"{self._outcome} ×{self._count} (logged)")
        return RuleOutcome(self.spec.id, True, "none said")
