"""Spoken-number runs: styles, traps, spans, open ends, Italian."""

from __future__ import annotations

import pytest

from rules.spoken_numbers import digits_of, parse_text, parse_words, tokenize
from rules.spoken_numbers_it import italian_word_value
from rules.spoken_numbers_lexicon import lexicon_for


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("four one one one", ["4111"]),
        ("oh four twenty seven", ["0427"]),
        ("double five triple oh one", ["550001"]),
        ("forty five thirty two", ["4532"]),
        ("nineteen ninety nine", ["1999"]),
        ("four one one one uh sorry let me see one one one one", ["41111111"]),
        ("four one one one hold on a second one one one one", ["41111111"]),
        ("my card is 4111 1111 1111 1111 thanks", ["4111111111111111"]),
        ("4012-8888-8888-1881", ["4012888888881881"]),
        ("a hundred dollars", ["100"]),
        ("two thousand four hundred dollars", ["2400"]),
        ("one hundred and five", ["105"]),
        ("four one for one", ["4141"]),
        ("four one to three", ["4123"]),
    ],
)
def test_english_runs(text: str, digits: list[str]) -> None:
    assert digits_of(text) == digits


@pytest.mark.parametrize(
    "text",
    [
        "one of them is fine",
        "oh I see",
        "I was waiting for you to call",
        "my name is o s c a r",
        "hold on a second",
        "first of all thank you",
        "can I have a moment",
    ],
)
def test_traps_give_no_number(text: str) -> None:
    assert digits_of(text) == []


def test_im_twenty_is_a_two_digit_run_only() -> None:
    assert digits_of("I'm twenty") == ["20"]


def test_for_and_to_at_run_edges_are_words() -> None:
    assert digits_of("four one one one for you") == ["4111"]
    assert digits_of("to pay with one two three four") == ["1234"]


def test_spans_and_open_flags() -> None:
    words = ["my", "card", "is", "four", "one", "uh", "one", "one"]
    (run,) = parse_words(words)
    assert (run.first_word, run.last_word, run.number_words) == (3, 7, (3, 4, 6, 7))
    assert run.open_end and not run.open_start
    assert run.segment_starts == (0, 2)
    (lead,) = parse_words(["uh", "four", "one", "one", "thanks"])
    assert lead.open_start and not lead.open_end


def test_weak_lone_digit_word() -> None:
    (run,) = parse_text("this is the one")
    assert run.weak and run.digits == "1"
    assert digits_of("this is the one", include_weak=True) == ["1"]


def test_punctuation_pauses_a_cardinal() -> None:
    assert digits_of("twenty, five") == ["205"]
    assert digits_of("twenty five") == ["25"]


def test_tokenize_keeps_word_indices() -> None:
    tokens = tokenize(["Twenty-five", "$20", "b747"])
    assert [(t.text, t.word) for t in tokens] == [("twenty", 0), ("five", 0), ("20", 1), ("b", 2), ("747", 2)]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("quattro cinque tre due", ["4532"]),
        ("doppio zero sette", ["007"]),
        ("triplo uno due", ["1112"]),
        ("quarantacinque trentadue", ["4532"]),
        ("ventuno ventotto ventitré", ["212823"]),
        ("quattro uno ehm scusi uno uno", ["4111"]),
        ("duemila quattrocento euro", ["2000400"]),
    ],
)
def test_italian_runs(text: str, digits: list[str]) -> None:
    assert digits_of(text, "it") == digits


def test_italian_word_values() -> None:
    assert italian_word_value("quarantacinque") == 45
    assert italian_word_value("centottanta") == 180
    assert italian_word_value("duemilatrecento") == 2300
    assert italian_word_value("millenovecentonovantanove") == 1999
    assert italian_word_value("ciao") is None


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="supported: en, it"):
        lexicon_for("xx")
    assert lexicon_for("it-IT").lang == "it"
