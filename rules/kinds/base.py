"""Shared plumbing of the phrase-based rule kinds: parameter checks, per-language phrase lists, event times."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rules.events import CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance
from rules.findings import Severity
from rules.model import ParamError, RuleSpec
from rules.redact import redact_text

SPEAKERS = tuple(s.value for s in Speaker)
SEVERITIES = tuple(s.value for s in Severity)


def redact_evidence(text: str, language: str = "en") -> str:
    """Evidence text safe to store or show: card numbers, CVVs and other digit runs redacted (rules.redact)."""
    return redact_text(text, language if language in ("en", "it") else "en")


def event_time(event: Event) -> float | None:
    """How far the call's audio clock has certainly advanced when `event` arrives (None if not finite)."""
    if isinstance(event, (Utterance, DigitReading)):
        value = event.end
    elif isinstance(event, CallStarted):
        value = event.at
    else:
        value = event.at
    return value if math.isfinite(value) else None


def primary_language(language: str) -> str:
    """The primary language subtag, lowercased: "it-IT" → "it"."""
    return language.replace("_", "-").split("-", 1)[0].strip().lower() or "en"


_PHRASES: dict[tuple[int, str, str], tuple[Any, Any, tuple[str, ...]]] = {}
"""Recent `phrases_for` results by (id of the params value, language, default language): (that value, a deep
copy to detect changes, phrases). Bounded at _PHRASES_MAX entries (oldest dropped)."""
_PHRASES_MAX = 512


def phrases_for(params: Mapping[str, Any], key: str, language: str, default_language: str) -> tuple[str, ...]:
    """The phrases of `params[key]` for `language`: a plain list counts as the rule's own language.

    Memoized per params value while its content is unchanged (every call's fresh rules ask again)."""
    value = params.get(key)
    memo_key = (id(value), language, default_language)
    known = _PHRASES.get(memo_key)
    if known is not None and known[0] is value and known[1] == value:
        return known[2]
    phrases = _phrases_for(value, language, default_language)
    if len(_PHRASES) >= _PHRASES_MAX:
        del _PHRASES[next(iter(_PHRASES))]
    _PHRASES[memo_key] = (value, copy.deepcopy(value), phrases)
    return phrases


def _phrases_for(value: Any, language: str, default_language: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple(str(p) for p in value.get(language, ()) or ())
    return tuple(str(p) for p in value) if language == default_language else ()


def check_phrase_lists(params: Mapping[str, Any], key: str, required: bool) -> list[ParamError]:
    """Validate `params[key]`: a non-empty list of strings, or a mapping language → such a list."""
    value = params.get(key)
    if value is None:
        return [ParamError(key, "required: a list of phrases or a mapping language → list")] if required else []
    if isinstance(value, Mapping):
        if not value:
            return [ParamError(key, "expected at least one language, e.g. {en: [...], it: [...]}")]
        errors: list[ParamError] = []
        for language, phrases in value.items():
            errors.extend(_check_string_list(phrases, f"{key}.{language}"))
        return errors
    return _check_string_list(value, key)


def _check_string_list(value: Any, field: str) -> list[ParamError]:
    if not isinstance(value, list) or not value:
        return [ParamError(field, "expected a non-empty list of phrases (strings)")]
    return [
        ParamError(f"{field}[{i}]", f"expected a non-empty phrase string, got {item!r}")
        for i, item in enumerate(value)
        if not isinstance(item, str) or not item.strip()
    ]


def check_number(params: Mapping[str, Any], key: str, low: float, high: float) -> list[ParamError]:
    """Validate an optional number param within [low, high]."""
    value = params.get(key)
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        return [ParamError(key, f"expected a number between {low} and {high}, got {value!r}")]
    return []


def check_choice(params: Mapping[str, Any], key: str, choices: Sequence[str]) -> list[ParamError]:
    """Validate an optional string param that must be one of `choices`."""
    value = params.get(key)
    if value is None or value in choices:
        return []
    return [ParamError(key, f"expected one of {', '.join(choices)}, got {value!r}")]


def check_bool(params: Mapping[str, Any], key: str) -> list[ParamError]:
    """Validate an optional boolean param."""
    value = params.get(key)
    if value is None or isinstance(value, bool):
        return []
    return [ParamError(key, f"expected true or false, got {value!r}")]


def check_unknown(params: Mapping[str, Any], known: Sequence[str]) -> list[ParamError]:
    """One error per param name the kind does not know (typos fail closed)."""
    return [
        ParamError(str(name), f"unknown parameter; known: {', '.join(sorted(known))}")
        for name in params
        if name not in known
    ]


def check_outcome_severities(params: Mapping[str, Any], outcomes: Sequence[str]) -> list[ParamError]:
    """Validate the optional `outcome_severity` mapping outcome → severity."""
    value = params.get("outcome_severity")
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [ParamError("outcome_severity", "expected a mapping outcome → severity")]
    errors: list[ParamError] = []
    for outcome, severity in value.items():
        if outcome not in outcomes:
            errors.append(ParamError(f"outcome_severity.{outcome}", f"unknown outcome; known: {', '.join(outcomes)}"))
        elif severity not in SEVERITIES:
            errors.append(
                ParamError(f"outcome_severity.{outcome}", f"expected one of {', '.join(SEVERITIES)}, got {severity!r}")
            )
    return errors


def outcome_severity(spec: RuleSpec, outcome: str, default: Severity) -> Severity:
    """The severity for `outcome`: the rule's `outcome_severity` param, else `default`."""
    overrides = spec.params.get("outcome_severity") or {}
    value = overrides.get(outcome) if isinstance(overrides, Mapping) else None
    return Severity(value) if value in SEVERITIES else default


def call_language(event: CallStarted, spec: RuleSpec) -> str:
    """The language a rule evaluates a call in: the call's primary language subtag."""
    return primary_language(event.language) if event.language else primary_language(spec.language)


class CallState:
    """What every rule instance tracks about its call: id, start, language, whether it ended.

    A rule fed an event before any CallStarted treats the call as started at audio time 0.0 in the rule's
    language, so rules stay total even when used without the engine.
    """

    __slots__ = ("call_id", "ended", "language", "started", "started_at")

    def __init__(self) -> None:
        self.call_id = ""
        self.started = False
        self.started_at = 0.0
        self.language = ""
        self.ended = False

    def observe(self, event: Event, spec: RuleSpec) -> bool:
        """Track lifecycle; True when `event` is one the rule should act on (not after CallEnded)."""
        if self.ended:
            return False
        if not self.started:
            self.started = True
            self.call_id = event.call_id
            if isinstance(event, CallStarted):
                self.started_at = event.at if math.isfinite(event.at) else 0.0
                self.language = call_language(event, spec)
            else:
                self.language = primary_language(spec.language)
        if isinstance(event, CallEnded):
            self.ended = True
        return True


def speaker_matches(wanted: str, speaker: Speaker) -> bool:
    """True when an utterance by `speaker` is one a rule watching `wanted` ("any" = everyone) considers."""
    return wanted == "any" or speaker == wanted  # a StrEnum equals its value


LOW_ATTRIBUTION = 0.7
"""Below this `attribution_confidence` a turn of a single-channel call may be either side's (rules/attribution.py)."""


def considers(wanted: str, utterance: Utterance) -> bool:
    """`speaker_matches`, and on a single-channel call also a turn left unknown or attributed with low confidence:
    a rule that needs one side's words counts them (honestly noted, `attribution_note`) rather than miss them."""
    if wanted == "any" or utterance.speaker == wanted:
        return True
    confidence = utterance.attribution_confidence
    return confidence is not None and (utterance.speaker is Speaker.UNKNOWN or confidence < LOW_ATTRIBUTION)


def attribution_note(wanted: str, utterance: Utterance) -> str:
    """Why a turn of another (or no) side was counted for `wanted`; "" when the speaker is the one wanted."""
    if wanted == "any" or utterance.speaker == wanted or utterance.attribution_confidence is None:
        return ""
    if utterance.speaker is Speaker.UNKNOWN:
        return f"heard in an unattributed turn of a single-channel call; counted as the {wanted}'s"
    return (
        f"heard in a turn attributed to the {utterance.speaker.value} with confidence "
        f"{utterance.attribution_confidence:.2f} (single-channel call); counted as the {wanted}'s"
    )
