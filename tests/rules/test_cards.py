"""Luhn, brands, PAN search, CVV/expiry/SSN shapes (card numbers from shared/data/text/test-pans.tsv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.cards import (
    card_brand,
    find_pan,
    is_cvv,
    luhn_valid,
    parse_expiry,
    phrase_ends,
    ssn_valid,
)


def _test_pans(data: Path) -> list[tuple[str, bool, str]]:
    rows = (data / "text" / "test-pans.tsv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split("\t")
    assert header[:4] == ["digits", "length", "iin_brand_guess", "luhn_valid(computed)"]
    return [(r.split("\t")[0], r.split("\t")[3] == "True", r.split("\t")[2]) for r in rows[1:]]


def test_luhn_matches_the_tsv(shared_data: Path) -> None:
    rows = _test_pans(shared_data)
    assert len(rows) >= 80
    for digits, valid, _brand in rows:
        assert luhn_valid(digits) == valid, digits


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        ("4111111111111111", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("2720990000000000", "mastercard"),
        ("378282246310005", "amex"),
        ("6011111111111117", "discover"),
        ("30569309025904", "diners"),
        ("3530111333300000", "jcb"),
        ("6200000000000005", "unionpay"),
        ("6759649826438453", "maestro"),
        ("7894000000000000", None),
    ],
)
def test_brands(digits: str, brand: str | None) -> None:
    assert card_brand(digits) == brand


def test_brand_guesses_of_the_tsv_agree(shared_data: Path) -> None:
    for digits, _valid, guess in _test_pans(shared_data):
        if guess in ("visa", "mastercard", "amex", "discover", "jcb", "unionpay"):
            assert card_brand(digits) == guess, digits


def test_find_pan_whole_run_and_segments() -> None:
    pan = find_pan("4111111111111111")
    assert pan is not None and pan.brand == "visa" and pan.last4 == "1111" and pan.masked == "[card ••••1111]"
    assert "1111111111" not in pan.describe()
    # card then expiry, separated by a filler segment
    glued = find_pan("42424242424242420427", boundaries=(16,))
    assert glued is not None and glued.digits == "4242424242424242"
    # card immediately followed by expiry digits (prefix window of the brand's usual length)
    assert find_pan("55555555555544440427") is not None


def test_find_pan_rejects_prefixes_of_invalid_numbers() -> None:
    assert luhn_valid("4012888888881") and not luhn_valid("4012888888881882")
    assert find_pan("4012888888881882") is None


def test_open_run_waits_for_the_usual_length() -> None:
    assert find_pan("4222222222222", open_end=True) is None  # a 13-digit Visa could still grow to 16
    assert find_pan("4222222222222") is not None
    assert find_pan("4111111111111111", open_end=True) is not None
    assert find_pan("378282246310005", open_end=True) is not None


def test_cvv_expiry_ssn_shapes() -> None:
    assert is_cvv("123") and is_cvv("1234") and not is_cvv("12") and not is_cvv("12345")
    assert parse_expiry("0427") == (4, 27)
    assert parse_expiry("427") == (4, 27)
    assert parse_expiry("042027") == (4, 27)
    assert parse_expiry("1327") is None
    assert ssn_valid("799123113") and not ssn_valid("999123113") and not ssn_valid("078000000")
    assert not ssn_valid("666123456") and not ssn_valid("12345678")


def test_presidio_ssn_vectors(shared_data: Path) -> None:
    """Presidio's invalid SSN vectors (000…, 666…, 00 group, 0000 serial) are rejected; 078-05-1123 is accepted."""
    assert ssn_valid("078051123")
    for invalid in ("000000000", "666000000", "078050000", "078001123"):
        assert not ssn_valid(invalid), invalid


def test_phrase_ends() -> None:
    pairs = [(w, i) for i, w in enumerate(["what", "is", "the", "security", "code", "on", "the", "back"])]
    assert phrase_ends(pairs, ("security code", "cvv")) == [4]
    assert phrase_ends(pairs, ("expiry",)) == []
