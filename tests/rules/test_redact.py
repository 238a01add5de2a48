"""Redaction: written and spoken digits masked, CVV context, continuation, partials; a property test."""

from __future__ import annotations

import random
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.events import Speaker, Utterance, Word
from rules.redact import Redactor, redact_text, redact_words
from rules.spoken_numbers import parse_text
from tests.rules.sensitive_number_speech import FILLERS, say_random


def _longest_run(text: str, lang: str = "en") -> int:
    return max((len(run.digits) for run in parse_text(text, lang)), default=0)


def test_spoken_and_written_cards_are_masked() -> None:
    assert redact_text("my card is four one one one one one one one one one one one one one one one thanks") == (
        "my card is [card ••••1111] thanks"
    )
    assert redact_text("card 4111 1111 1111 1111 ok") == "card [card ••••1111] ok"
    assert redact_text("card 4111-1111-1111-1111") == "card [card ••••1111]"
    assert redact_text("forty five thirty two uh ten") == "[number]"


def test_short_numbers_stay_and_long_ones_go() -> None:
    assert redact_text("I have two kids and one of them is twelve") == "I have two kids and one of them is twelve"
    assert redact_text("call me on five five five one two three four") == "call me on [number]"
    assert redact_text("the card ending in four two four two") == "the card ending in [number]"


def test_cvv_after_prompt_in_the_same_text() -> None:
    assert redact_text("the security code is one two three") == "the security code is [number]"
    assert redact_text("il codice di sicurezza è quattro cinque sei", "it") == "il codice di sicurezza è [number]"


def test_partial_open_run_masked_from_three_digits() -> None:
    assert redact_text("my card is four one one", partial=True) == "my card is [number]"
    assert redact_text("my card is four one one") == "my card is four one one"


def test_redact_words_reports_masked_indices() -> None:
    result = redact_words(["it's", "four", "one", "uh", "one", "one", "ok"], extra_masked=[6])
    assert result.masked == (1, 2, 3, 4, 5, 6)
    assert result.text == "it's [number]"


def _utt(speaker: Speaker, text: str, start: float, final: bool = True) -> Utterance:
    words = tuple(Word(w, start + i * 0.3, start + (i + 1) * 0.3) for i, w in enumerate(text.split()))
    return Utterance("c", speaker, 1, 0, text, words, start, words[-1].end, final)


def test_redactor_masks_cvv_answer_in_next_utterance() -> None:
    redactor = Redactor()
    assert redactor.redact_utterance(_utt(Speaker.AGENT, "what is the security code", 1.0)) == (
        "what is the security code"
    )
    assert redactor.redact_utterance(_utt(Speaker.CUSTOMER, "one two three", 3.0, final=False)) == "[number]"
    assert redactor.redact_utterance(_utt(Speaker.CUSTOMER, "one two three", 3.0)) == "[number]"
    assert redactor.redact_utterance(_utt(Speaker.CUSTOMER, "I have two kids", 60.0)) == "I have two kids"


def test_redactor_masks_continued_run() -> None:
    redactor = Redactor()
    first = redactor.redact_utterance(_utt(Speaker.CUSTOMER, "four one one", 1.0))
    assert first == "four one one"  # three digits: below the stateless threshold (the IIN part at most)
    assert redactor.redact_utterance(_utt(Speaker.CUSTOMER, "one two", 2.5)) == "[number]"
    assert redactor.redact_utterance(_utt(Speaker.AGENT, "two", 3.0)) == "two"


@settings(max_examples=150, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=6, max_size=19),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    prefix=st.sampled_from(["", "my card number is", "okay", "it's"]),
    suffix=st.sampled_from(["", "thanks", "is that right", "uh"]),
)
def test_no_six_card_digits_survive(digits: str, seed: int, prefix: str, suffix: str) -> None:
    """Any ≥ 6-digit string spoken in random styles (words, pairs, doubles, literals, fillers) is masked."""
    words = say_random(digits, random.Random(seed))
    text = " ".join([prefix, *words, suffix]).strip()
    for partial in (False, True):
        redacted = redact_text(text, partial=partial)
        # the only digits allowed through are the last four of a classified PAN, inside its label
        assert _longest_run(re.sub(r"\[card ••••\d{4}\]", "[card]", redacted)) < 4, (text, redacted)
        assert digits not in redacted.replace(" ", "")


@settings(max_examples=60, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=8, max_size=19), cut=st.integers(min_value=1, max_value=7),
       seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_split_runs_leak_at_most_the_first_utterance_short_part(digits: str, cut: int, seed: int) -> None:
    """A number split over two utterances: the second part is masked by continuation whatever its length."""
    rng = random.Random(seed)
    redactor = Redactor()
    first = " ".join(say_random(digits[:cut], rng))
    second = " ".join([*say_random(digits[cut:], rng), rng.choice(FILLERS)])
    out1 = redactor.redact_utterance(_utt(Speaker.CUSTOMER, f"it is {first}", 1.0))
    out2 = redactor.redact_utterance(_utt(Speaker.CUSTOMER, second, 1.0 + 0.3 * (len(first.split()) + 3)))
    visible = [re.sub(r"\[card ••••\d{4}\]", "[card]", out) for out in (out1, out2)]
    leaked = "".join(run.digits for out in visible for run in parse_text(out))
    assert len(leaked) < 6, (first, second, out1, out2)
