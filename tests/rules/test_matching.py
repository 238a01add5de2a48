"""Phrase matching: normalization, word-aligned similarity (no subset false matches), spans → audio times."""

from __future__ import annotations

import pytest

from rules.events import Speaker, Utterance, Word
from rules.matching import PhraseMatcher, normalize, normalize_tokens, utterance_view


def view(text: str, start: float = 0.0) -> Utterance:
    words = tuple(Word(w, start + i * 0.5, start + (i + 1) * 0.5) for i, w in enumerate(text.split()))
    return Utterance("c", Speaker.AGENT, 0, 0, text, words, start, words[-1].end if words else start, True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I don't mind, that's OK!", "i do not mind that is okay"),
        ("We'll call; you're set. I'd rather not.", "we will call you are set i would rather not"),
        ("Sì, c’è l'operatore — d'accordo", "si c e l operatore d accordo"),
        ("this call's recorded", "this call is recorded"),
        ("Can't won't cannot", "can not will not can not"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_best_match_reports_phrase_similarity_and_times() -> None:
    matcher = PhraseMatcher(["this call may be recorded", "on a recorded line"])
    found = matcher.best(utterance_view(view("hello and welcome this call may be recordid for training", 10.0)))
    assert found is not None
    assert found.phrase == "this call may be recorded" and 0.9 < found.similarity < 1.0
    assert (found.first, found.last) == (3, 8)
    assert (found.start, found.end) == (11.5, 14.0)


def test_short_phrase_inside_long_unrelated_sentence_does_not_match() -> None:
    matcher = PhraseMatcher(["calls are recorded"])
    sentence = "my calls to the support line are never answered and the show I recorded was deleted"
    found = matcher.best(utterance_view(view(sentence)))
    assert found is None or found.similarity < 0.7


def test_one_word_phrase_does_not_match_inside_a_longer_word() -> None:
    matcher = PhraseMatcher(["yes"])
    found = matcher.best(utterance_view(view("yesterday I called")))
    assert found is None or found.similarity < 0.7


def test_contractions_in_the_utterance_match_expanded_phrases() -> None:
    matcher = PhraseMatcher(["I don't want this recorded"])
    found = matcher.best(utterance_view(view("no I do not want this recorded thanks")))
    assert found is not None and found.similarity == 1.0


def test_prefilter_skips_unrelated_text() -> None:
    assert PhraseMatcher(["guaranteed returns"]).best(utterance_view(view("good morning how are you"))) is None


def test_words_without_times_are_spread_over_the_utterance() -> None:
    utterance = Utterance("c", Speaker.AGENT, 0, 0, "one two three four", (), 10.0, 14.0, True)
    found = PhraseMatcher(["three four"]).best(utterance_view(utterance))
    assert found is not None and (found.start, found.end) == (12.0, 14.0)


def test_normalize_tokens_is_cached_and_pure() -> None:
    assert normalize_tokens("Hello, World") is normalize_tokens("Hello, World")
