"""The consent kind: after the agent's consent question, classify the customer's answer; catch later withdrawal.

Flow: an agent utterance matching `question_phrases` (or `inverted_question_phrases`, e.g. "do you mind if…",
where "no" means consent) opens an answer window of `answer_window_seconds` from the question's end. Customer
utterances starting inside it (partials replaced by their finals) form the answer; the last clear polarity wins.
The window closes — and exactly one finding is emitted — when (a) the agent starts a new final utterance after
the customer's last final answer, (b) the audio clock passes the window end with no customer utterance still
open (or passes it by 5 s regardless), or (c) the call ends. Outcomes: `consent_given` (info),
`consent_refused` (the rule's severity, normally critical: stop recording), `consent_unclear` (medium; the
agent may ask again, opening a new window). Outside an open window, a customer utterance matching
`withdrawal_phrases` gives `consent_withdrawn` (critical) once. With `require_question: true`, a call that
ends without the question gives `not_asked` (high).

Questions are told by intent (`question_patterns`, `inverted_question_patterns`; rules.intents). Real ASR
garbles the start of short questions ("is that okay with you" → "that's okay with you", "in map okay will you"),
so `tail_question_*` ("okay with you", "do you agree", "is it okay if we continue") also open a window, matched at
`tail_threshold`, but only in a recording context: the agent utterance itself is a recording notice (it matches
`context_patterns`; without them, a token starting with one of `recording_words`, default "record"/"monitor",
Italian "registr"), or an agent utterance was within `recording_context_seconds` before. In that context only,
the fuzzy `question_phrases` / `inverted_question_phrases` of a rule that also has patterns are a fallback for
questions too garbled for the patterns ("do you have read or being recorded"). Legs are transcribed in parallel, so the
customer's answer can arrive before the question's final: the customer's finals of the last
`answer_window_seconds` are kept and join a window opened by a question that started before them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.events import AudioTick, CallEnded, Event, Speaker, Utterance
from rules.findings import Finding, Severity
from rules.kinds.base import (
    CallState,
    check_bool,
    check_number,
    check_outcome_severities,
    check_phrase_lists,
    check_unknown,
    event_time,
    outcome_severity,
    phrases_for,
    redact_evidence,
)
from rules.kinds.consent_answers import Polarity, classify_answer
from rules.kinds.matchers import (
    Matcher,
    check_concepts_param,
    check_matcher_params,
    describe,
    match_details,
    matcher_for,
)
from rules.matching import PhraseMatch, normalize_tokens, phrase_matcher
from rules.model import ParamError, RuleOutcome, RuleSpec

KIND = "consent"
OUTCOMES = ("consent_given", "consent_refused", "consent_unclear", "consent_withdrawn", "not_asked")
PARAMS = (
    "question_phrases",
    "inverted_question_phrases",
    "withdrawal_phrases",
    "tail_question_phrases",
    "question_patterns",
    "inverted_question_patterns",
    "withdrawal_patterns",
    "tail_question_patterns",
    "context_patterns",
    "fallback_veto_patterns",
    "concepts",
    "tail_threshold",
    "recording_words",
    "recording_context_seconds",
    "answer_window_seconds",
    "threshold",
    "withdrawal_threshold",
    "partial_margin",
    "require_question",
    "outcome_severity",
)
OVERRUN_SECONDS = 5.0
CUE_THRESHOLD = 0.9
"""Score a `context_patterns` or `fallback_veto_patterns` match needs to count (a recording notice; a veto)."""
RECORDING_WORDS = {"en": ("record", "monitor"), "it": ("registr",)}
"""Default token prefixes that make an agent utterance a recording context (per language)."""
_OUTCOME_OF = {Polarity.YES: "consent_given", Polarity.NO: "consent_refused", Polarity.UNCLEAR: "consent_unclear"}


@dataclass(slots=True)
class _Window:
    """An open answer window: the question that opened it and the customer's answer utterances so far."""

    question: PhraseMatch
    question_text: str
    inverted: bool
    closes_at: float
    answers: dict[tuple[int, int], Utterance]


class ConsentRule:
    """Per-call state of one consent rule."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        params = spec.params
        self._window_seconds = float(params.get("answer_window_seconds", 10.0))
        self._threshold = float(params.get("threshold", 0.8))
        self._withdrawal_threshold = float(params.get("withdrawal_threshold", 0.85))
        self._margin = float(params.get("partial_margin", 0.05))
        self._require_question = bool(params.get("require_question", False))
        self._tail_threshold = float(params.get("tail_threshold", 0.8))
        self._context_seconds = float(params.get("recording_context_seconds", 20.0))
        self._tails: Matcher = phrase_matcher(())
        self._recording_words: tuple[str, ...] = ()
        self._recording_mentioned_at: float | None = None
        self._recent_answers: list[Utterance] = []
        self._call = CallState()
        self._questions: Matcher | None = None
        self._inverted: Matcher = phrase_matcher(())
        self._fuzzy_questions: Matcher = phrase_matcher(())
        self._fuzzy_inverted: Matcher = phrase_matcher(())
        self._context: Matcher = phrase_matcher(())
        self._fallback_veto: Matcher = phrase_matcher(())
        self._withdrawals: Matcher = phrase_matcher(())
        self._window: _Window | None = None
        self._decision: str = ""
        self._asked = False
        self._withdrawn = False
        self._fired_questions: set[tuple[int, int]] = set()

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[ParamError]:
        """Problems with a consent rule's params."""
        return [
            *check_unknown(params, PARAMS),
            *check_matcher_params(params, "question_phrases", "question_patterns", required=True),
            *check_matcher_params(params, "inverted_question_phrases", "inverted_question_patterns", required=False),
            *check_matcher_params(params, "withdrawal_phrases", "withdrawal_patterns", required=False),
            *check_matcher_params(params, "tail_question_phrases", "tail_question_patterns", required=False),
            *check_matcher_params(params, "", "context_patterns", required=False),
            *check_matcher_params(params, "", "fallback_veto_patterns", required=False),
            *check_concepts_param(params),
            *check_phrase_lists(params, "recording_words", required=False),
            *check_number(params, "tail_threshold", 0.5, 1.0),
            *check_number(params, "recording_context_seconds", 0.0, 600.0),
            *check_number(params, "answer_window_seconds", 1.0, 600.0),
            *check_number(params, "threshold", 0.5, 1.0),
            *check_number(params, "withdrawal_threshold", 0.5, 1.0),
            *check_number(params, "partial_margin", 0.0, 0.5),
            *check_bool(params, "require_question"),
            *check_outcome_severities(params, OUTCOMES),
        ]

    def _setup(self) -> None:
        language, own = self._call.language, self.spec.language
        params = self.spec.params
        self._questions, self._fuzzy_questions = _split(
            params, "question_phrases", "question_patterns", "consent_question", language, own
        )
        self._inverted, self._fuzzy_inverted = _split(
            params, "inverted_question_phrases", "inverted_question_patterns", "consent_question_inverted",
            language, own,
        )
        self._context = matcher_for(params, "", "context_patterns", "recording_notice", language, own)
        self._fallback_veto = matcher_for(
            params, "", "fallback_veto_patterns", "not_a_consent_question", language, own
        )
        self._withdrawals = matcher_for(
            params, "withdrawal_phrases", "withdrawal_patterns", "consent_withdrawal", language, own
        )
        self._tails = matcher_for(
            params, "tail_question_phrases", "tail_question_patterns", "consent_question_tail", language, own
        )
        words = phrases_for(params, "recording_words", language, own) if "recording_words" in params else None
        self._recording_words = tuple(w.lower() for w in (words or RECORDING_WORDS.get(language, ())))

    def _applicable(self) -> bool:
        return bool(self._questions and (
            self._questions.phrases or self._inverted.phrases or self._fuzzy_questions.phrases
            or self._fuzzy_inverted.phrases
        ))

    @classmethod
    def feed_idle(cls, rules: Sequence[ConsentRule], event: Event) -> bool:
        """True (nothing else to do) when `event` is an AudioTick that closes no answer window, for rules already
        set up for their call (so `feed` would return nothing and change no state); else False."""
        if not isinstance(event, AudioTick):
            return False
        for rule in rules:
            call, window = rule._call, rule._window
            if not call.started or call.ended or rule._questions is None:
                return False
            if window is not None and rule._applicable():
                now = event_time(event)  # as _close_if_due: nothing before the window's end
                if now is not None and now >= window.closes_at:
                    return False
        return True

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; a finding when an answer window closes or consent is withdrawn."""
        if not self._call.observe(event, self.spec):
            return []
        if self._questions is None:
            self._setup()
        if not self._applicable():
            return []
        findings: list[Finding] = []
        if isinstance(event, Utterance):
            findings.extend(self._on_utterance(event))
        findings.extend(self._close_if_due(event))
        if isinstance(event, CallEnded) and self._require_question and not self._asked:
            findings.append(self._not_asked(event))
        return findings

    def _on_utterance(self, utterance: Utterance) -> list[Finding]:
        if utterance.speaker is Speaker.AGENT:
            return self._on_agent(utterance)
        if utterance.speaker is Speaker.CUSTOMER:
            return self._on_customer(utterance)
        return []

    def _on_agent(self, utterance: Utterance) -> list[Finding]:
        findings: list[Finding] = []
        window = self._window
        if window is not None and utterance.final and self._answered_before(window, utterance.start):
            findings.extend(self._close())
        if self._window is None and self._decision in ("", "consent_unclear"):
            self._maybe_open(utterance)
        if utterance.final and self._mentions_recording(utterance):
            self._recording_mentioned_at = utterance.end
        return findings

    def _mentions_recording(self, utterance: Utterance) -> bool:
        if self._context.phrases:  # a recording notice, told by its intent patterns
            return self._context.best_in(utterance, floor=CUE_THRESHOLD) is not None
        words = self._recording_words
        return bool(words) and any(t.startswith(words) for t in normalize_tokens(utterance.text))

    def _recording_context(self, utterance: Utterance) -> bool:
        """True when this agent utterance, or one shortly before it, mentions recording."""
        if self._mentions_recording(utterance):
            return True
        at = self._recording_mentioned_at
        return at is not None and utterance.start - at <= self._context_seconds

    def _tail_question(self, utterance: Utterance) -> PhraseMatch | None:
        """A garbled consent question recognized by its tail ("…okay with you"), in a recording context only, and
        never one about something `fallback_veto_patterns` names (a hold, a transfer, an address…)."""
        if not self._tails.phrases:
            return None
        needed = self._tail_threshold if utterance.final else min(1.0, self._tail_threshold + self._margin)
        match = self._tails.best_in(utterance, floor=needed)
        if match is None or not self._recording_context(utterance) or self._vetoed(utterance):
            return None
        return match

    def _fallback_applies(self, utterance: Utterance) -> bool:
        """Whether the fuzzy question phrases may open a window: as a tail question (context, no veto)."""
        if not (self._fuzzy_questions.phrases or self._fuzzy_inverted.phrases):
            return False
        return self._recording_context(utterance) and not self._vetoed(utterance)

    def _vetoed(self, utterance: Utterance) -> bool:
        return self._fallback_veto.best_in(utterance, floor=CUE_THRESHOLD) is not None

    def _answered_before(self, window: _Window, start: float) -> bool:
        finals = [u for u in window.answers.values() if u.final]
        return bool(finals) and len(finals) == len(window.answers) and start >= max(u.end for u in finals)

    def _maybe_open(self, utterance: Utterance) -> None:
        key = (utterance.channel, utterance.index)
        if key in self._fired_questions:
            return
        needed = self._threshold if utterance.final else min(1.0, self._threshold + self._margin)
        plain = self._questions.best_in(utterance, floor=needed) if self._questions else None
        inverted = self._inverted.best_in(utterance, floor=needed)
        if plain is None and inverted is None:
            plain = self._tail_question(utterance)
        if plain is None and inverted is None and self._fallback_applies(utterance):
            plain = self._fuzzy_questions.best_in(utterance, floor=needed)
            inverted = self._fuzzy_inverted.best_in(utterance, floor=needed)
        if plain is None and inverted is None:
            return
        is_inverted = inverted is not None and (plain is None or inverted.similarity > plain.similarity)
        match = inverted if is_inverted and inverted is not None else plain
        assert match is not None
        self._fired_questions.add(key)
        self._asked = True
        self._window = _Window(match, utterance.text, is_inverted, match.end + self._window_seconds, {})
        for answer in self._recent_answers:  # answers transcribed before the question (legs run in parallel)
            if match.start <= answer.start <= self._window.closes_at:
                self._window.answers[(answer.channel, answer.index)] = answer
        self._recent_answers.clear()

    def _on_customer(self, utterance: Utterance) -> list[Finding]:
        window = self._window
        if window is not None and window.question.start <= utterance.start <= window.closes_at:
            window.answers[(utterance.channel, utterance.index)] = utterance
            return []
        if utterance.final and window is None:
            horizon = utterance.end - self._window_seconds
            kept = [u for u in self._recent_answers if u.end >= horizon][-4:]
            self._recent_answers = [*kept, utterance]
        return self._maybe_withdraw(utterance)

    def _maybe_withdraw(self, utterance: Utterance) -> list[Finding]:
        if self._withdrawn or self._decision == "consent_refused" or not self._withdrawals.phrases:
            return []
        needed = self._withdrawal_threshold if utterance.final else min(1.0, self._withdrawal_threshold + self._margin)
        match = self._withdrawals.best_in(utterance, floor=needed)
        if match is None:
            return []
        self._withdrawn = True
        said = redact_evidence(match.text, self._call.language)
        when = "after consent was given" if self._decision == "consent_given" else "outside a consent question"
        return [
            Finding(
                call_id=utterance.call_id,
                rule_id=self.spec.id,
                kind=KIND,
                outcome="consent_withdrawn",
                severity=outcome_severity(self.spec, "consent_withdrawn", Severity.CRITICAL),
                start=match.start,
                end=match.end,
                reason=f"customer withdrew consent {when}: {said!r} ({describe(match)})",
                evidence=redact_evidence(utterance.text, self._call.language),
                speaker=utterance.speaker,
                channel=utterance.channel,
                matched_phrase=match.phrase,
                similarity=match.similarity,
                details={"final": utterance.final, **match_details(match)},
            )
        ]

    def _close_if_due(self, event: Event) -> list[Finding]:
        window = self._window
        if window is None:
            return []
        if isinstance(event, CallEnded):
            return self._close()
        now = event_time(event)
        if now is None or now < window.closes_at:
            return []
        pending = any(not u.final for u in window.answers.values())
        if pending and now < window.closes_at + OVERRUN_SECONDS:
            return []
        return self._close()

    def _close(self) -> list[Finding]:
        window = self._window
        if window is None:
            return []
        self._window = None
        answers = sorted(window.answers.values(), key=lambda u: (u.start, u.index))
        tokens = tuple(t for u in answers for t in normalize_tokens(u.text))
        verdict = classify_answer(tokens, self._call.language, window.inverted)
        outcome = _OUTCOME_OF[verdict.polarity]
        self._decision = outcome
        default = {"consent_given": Severity.INFO, "consent_unclear": Severity.MEDIUM}
        severity = outcome_severity(self.spec, outcome, default.get(outcome, self.spec.severity))
        said = redact_evidence(" … ".join(u.text for u in answers), self._call.language)
        if not answers:
            reason = f"no customer answer within {self._window_seconds:g} s of the question"
        elif verdict.polarity is Polarity.UNCLEAR:
            reason = f"customer answer has no clear yes or no: {said!r}"
        else:
            reason = f"customer answered {verdict.deciding_cue!r} (last clear cue of {len(verdict.cues)})"
        start = answers[0].start if answers else window.question.start
        end = max((u.end for u in answers), default=window.question.end)
        first = answers[0] if answers else None
        return [
            Finding(
                call_id=self._call.call_id,
                rule_id=self.spec.id,
                kind=KIND,
                outcome=outcome,
                severity=severity,
                start=start,
                end=end,
                reason=reason,
                evidence=said,
                speaker=first.speaker if first else Speaker.CUSTOMER,
                channel=first.channel if first else -1,
                matched_phrase=window.question.phrase,
                similarity=window.question.similarity,
                details={
                    "question": redact_evidence(window.question_text, self._call.language),
                    "question_start": window.question.start,
                    "inverted_question": window.inverted,
                    "cues": [[text, str(p)] for text, p in verdict.cues],
                },
            )
        ]

    def _not_asked(self, ended: CallEnded) -> Finding:
        return Finding(
            call_id=ended.call_id,
            rule_id=self.spec.id,
            kind=KIND,
            outcome="not_asked",
            severity=outcome_severity(self.spec, "not_asked", Severity.HIGH),
            start=ended.at,
            end=ended.at,
            reason="the agent never asked the consent question",
        )

    def outcome(self) -> RuleOutcome:
        """Failed on refusal, withdrawal, unclear answer or a required question not asked; passed on consent."""
        rid = self.spec.id
        if self._questions is not None and not self._applicable():
            return RuleOutcome(rid, None, f"no phrases for call language {self._call.language!r}")
        if self._withdrawn:
            return RuleOutcome(rid, False, "consent withdrawn")
        if self._decision:
            return RuleOutcome(rid, self._decision == "consent_given", self._decision.replace("_", " "))
        if self._require_question and self._call.ended:
            return RuleOutcome(rid, False, "consent question not asked")
        return RuleOutcome(rid, None, "consent question not asked" if self._call.ended else "pending")


def _split(
    params: Mapping[str, Any], phrases_key: str, patterns_key: str, intent: str, language: str, own: str
) -> tuple[Matcher, Matcher]:
    """(matcher used anywhere, fuzzy phrases used only in a recording context). With patterns, the phrase list
    is an ASR fallback, trusted only right after a recording notice; without, the phrases are the matcher."""
    if not phrases_for(params, patterns_key, language, own):
        return matcher_for(params, phrases_key, "", intent, language, own), phrase_matcher(())
    return (
        matcher_for(params, "", patterns_key, intent, language, own),
        phrase_matcher(phrases_for(params, phrases_key, language, own)),
    )
