"""The unverified_disclosure kind: phrases a speaker must not say before someone's identity was verified.

A forbidden_phrase (same `patterns`/`phrases`, `speaker`, thresholds, `max_findings`) that is armed only until the
verification is heard: a final utterance of `verification_speaker` matching `verification_patterns` (or
`verification_phrases`) at `verification_threshold` disarms it for the rest of the call. Built for HIPAA: protected
health information spoken before the caller's identity was checked. Outcomes: `disclosed_unverified` (or the
`outcome` param; the rule's severity) per occurrence before the verification, `absent` (info) at CallEnded when
none was. The verification is judged by what was said, never by whether the answers were right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from rules.events import Event, Utterance
from rules.findings import Finding
from rules.kinds.base import SPEAKERS, CallState, check_choice, check_number, speaker_matches
from rules.kinds.forbidden_phrase import ForbiddenPhraseRule
from rules.kinds.matchers import Matcher, check_matcher_params, matcher_for
from rules.model import ParamError, RuleOutcome, RuleSpec

KIND = "unverified_disclosure"
GUARD_PARAMS = ("verification_patterns", "verification_phrases", "verification_speaker", "verification_threshold")
DEFAULT_OUTCOME = "disclosed_unverified"


def _inner_spec(spec: RuleSpec) -> RuleSpec:
    """The forbidden_phrase rule this rule runs until the verification: the spec without the guard params."""
    params = {k: v for k, v in spec.params.items() if k not in GUARD_PARAMS}
    params.setdefault("outcome", DEFAULT_OUTCOME)
    return replace(spec, params=params)


class UnverifiedDisclosureRule:
    """Per-call state of one unverified_disclosure rule."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        params = spec.params
        self._inner = ForbiddenPhraseRule(_inner_spec(spec))
        self._guard_speaker = str(params.get("verification_speaker", "agent"))
        self._guard_threshold = float(params.get("verification_threshold", params.get("threshold", 0.85)))
        self._call = CallState()
        self._guard: Matcher | None = None
        self._verified_at: float | None = None

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[ParamError]:
        """Problems with an unverified_disclosure rule's params: the forbidden_phrase ones plus the guard's."""
        inner = {k: v for k, v in params.items() if k not in GUARD_PARAMS}
        return [
            *ForbiddenPhraseRule.check_params(inner),
            *check_matcher_params(params, "verification_phrases", "verification_patterns", required=True),
            *check_choice(params, "verification_speaker", (*SPEAKERS, "any")),
            *check_number(params, "verification_threshold", 0.5, 1.0),
        ]

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event: disarm on the verification, else pass it to the forbidden-phrase rule."""
        if self._call.observe(event, self.spec) and self._guard is None:
            params = self.spec.params
            self._guard = matcher_for(
                params, "verification_phrases", "verification_patterns", "identity_verification",
                self._call.language, self.spec.language,
            )
        if self._verified_at is None and isinstance(event, Utterance) and self._verifies(event):
            self._verified_at = event.end
        if self._verified_at is not None and isinstance(event, Utterance):
            return []
        return [self._with_kind(finding) for finding in self._inner.feed(event)]

    def _verifies(self, utterance: Utterance) -> bool:
        if self._guard is None or not utterance.final or not speaker_matches(self._guard_speaker, utterance.speaker):
            return False
        return self._guard.best_in(utterance, floor=self._guard_threshold) is not None

    def _with_kind(self, finding: Finding) -> Finding:
        details = dict(finding.details)
        if self._verified_at is not None:
            details["verified_at"] = round(self._verified_at, 2)
        return replace(finding, kind=KIND, details=details)

    def outcome(self) -> RuleOutcome:
        """As the forbidden-phrase rule: failed when something was disclosed before the verification."""
        return self._inner.outcome()
