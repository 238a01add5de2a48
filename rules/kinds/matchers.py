"""What a phrase-based rule matches with: a fuzzy phrase list, an intent's patterns, or both (the better match wins).

Rules say `phrases:` (character-level similarity, kept for user packs) and/or `patterns:` (intent matching over
the pack's `concepts`, rules.intents). Both are mappings language → list, or a plain list in the rule's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from rules.events import Utterance
from rules.intents import IntentMatcher, PatternError, check_concepts, compile_intent
from rules.kinds.base import check_phrase_lists, phrases_for
from rules.matching import PhraseMatch, PhraseMatcher, phrase_matcher
from rules.matching_views import TextView
from rules.model import ParamError

_Concepts = tuple[tuple[str, tuple[str, ...]], ...]


class EitherMatcher:
    """A phrase list and an intent together: the higher-scoring match of the two."""

    def __init__(self, phrases: PhraseMatcher, intent: IntentMatcher) -> None:
        self._phrases = phrases
        self._intent = intent
        self.phrases: tuple[str, ...] = phrases.phrases + intent.phrases

    def surely_unmatched(self, utterance: Utterance) -> bool:
        """True when neither matcher can match the utterance."""
        return self._phrases.surely_unmatched(utterance) and self._intent.surely_unmatched(utterance)

    def cannot_match(self, view: TextView) -> bool:
        """True when neither matcher can match `view`."""
        return self._phrases.cannot_match(view) and self._intent.cannot_match(view)

    def best_in(self, utterance: Utterance, floor: float = 0.0, near_misses: bool = False) -> PhraseMatch | None:
        """The better of the two matches scoring at least `floor`."""
        return _better(
            self._phrases.best_in(utterance, floor), self._intent.best_in(utterance, floor, near_misses)
        )


Matcher = PhraseMatcher | IntentMatcher | EitherMatcher
"""What the phrase-based kinds match utterances with."""


def _better(a: PhraseMatch | None, b: PhraseMatch | None) -> PhraseMatch | None:
    if a is None:
        return b
    if b is None:
        return a
    return b if b.similarity > a.similarity else a


def matcher_for(
    params: Mapping[str, Any], phrases_key: str, patterns_key: str, intent: str, language: str, own: str
) -> Matcher:
    """The matcher of one rule param pair for a call in `language` (`own`: the rule's language)."""
    phrases = phrase_matcher(phrases_for(params, phrases_key, language, own))
    patterns = phrases_for(params, patterns_key, language, own)
    if not patterns:
        return phrases
    matcher = intent_matcher(intent, patterns, _concepts_for(params, language), language)
    return EitherMatcher(phrases, matcher) if phrases.phrases else matcher


_CONCEPTS: dict[tuple[int, str], tuple[Any, _Concepts]] = {}
"""`_concepts_for` results by (id of the concepts table, language), with the table itself to check identity."""


def _concepts_for(params: Mapping[str, Any], language: str) -> _Concepts:
    """The concepts of `language` as a hashable, sorted tuple (memoized per table: every call's rules ask)."""
    table = params.get("concepts")
    key = (id(table), language)
    known = _CONCEPTS.get(key)
    if known is not None and known[0] is table:
        return known[1]
    result = _concepts_of(table, language)
    if len(_CONCEPTS) >= 256:
        _CONCEPTS.clear()
    _CONCEPTS[key] = (table, result)
    return result


def _concepts_of(table: Any, language: str) -> _Concepts:
    concepts = table.get(language) if isinstance(table, Mapping) else None
    if not isinstance(concepts, Mapping):
        return ()
    return tuple(sorted((str(k), tuple(str(t) for t in v)) for k, v in concepts.items()))


@lru_cache(maxsize=256)
def intent_matcher(name: str, patterns: tuple[str, ...], concepts: _Concepts, language: str) -> IntentMatcher:
    """A shared matcher for an intent's patterns in one language (compiled once for every call)."""
    return IntentMatcher(compile_intent(name, patterns, dict(concepts), language))


def check_matcher_params(
    params: Mapping[str, Any], phrases_key: str, patterns_key: str, required: bool
) -> list[ParamError]:
    """Problems with a phrases/patterns pair: one of them is required (if `required`), patterns must compile."""
    has_phrases, has_patterns = params.get(phrases_key) is not None, params.get(patterns_key) is not None
    if required and not has_phrases and not has_patterns:
        return [ParamError(patterns_key, f"required: `{patterns_key}` (intent patterns) or `{phrases_key}`")]
    errors = check_phrase_lists(params, phrases_key, required=False)
    errors.extend(check_phrase_lists(params, patterns_key, required=False))
    if not errors and has_patterns:
        errors.extend(_check_patterns(params, patterns_key))
    return errors


def check_concepts_param(params: Mapping[str, Any]) -> list[ParamError]:
    """Problems with the `concepts` param (a mapping language → {NAME: [phrases]}), merged in from the pack."""
    table = params.get("concepts")
    if table is None:
        return []
    if not isinstance(table, Mapping):
        return [ParamError("concepts", "expected a mapping language → {CONCEPT: [phrases]}")]
    errors: list[ParamError] = []
    for language, concepts in table.items():
        problem = check_concepts(concepts)
        if problem is not None:
            errors.append(ParamError(f"concepts.{language}", problem))
    return errors


def _check_patterns(params: Mapping[str, Any], key: str) -> list[ParamError]:
    value = params[key]
    by_language: Sequence[tuple[str, Any]] = (
        [(str(k), v) for k, v in value.items()] if isinstance(value, Mapping) else [("", value)]
    )
    errors: list[ParamError] = []
    for language, patterns in by_language:
        concepts = dict(_concepts_for(params, language)) if language else _any_concepts(params)
        for i, pattern in enumerate(patterns):
            field = f"{key}.{language}[{i}]" if language else f"{key}[{i}]"
            try:
                compile_intent(key, (str(pattern),), concepts, language or "en")
            except PatternError as exc:
                errors.append(ParamError(field, str(exc)))
    return errors


def _any_concepts(params: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """For a plain pattern list (the rule's language, unknown here): the concepts of every language together."""
    table = params.get("concepts")
    merged: dict[str, tuple[str, ...]] = {}
    if isinstance(table, Mapping):
        for language in table:
            merged.update(_concepts_of(table, language))
    return merged


def match_details(match: PhraseMatch) -> dict[str, Any]:
    """What a finding says about an intent match: the intent and the words that matched each required part."""
    if not match.intent:
        return {}
    return {"intent": match.intent, "matched_parts": [[label, words] for label, words in match.parts]}


def describe(match: PhraseMatch) -> str:
    """How a finding's reason names the match: the phrase and its similarity, or the intent with its parts."""
    if not match.intent:
        return f"similarity {match.similarity:.2f} to {match.phrase!r}"
    parts = ", ".join(f"{label}={words!r}" for label, words in match.parts)
    return f"intent {match.intent}, score {match.similarity:.2f}: {parts}"
