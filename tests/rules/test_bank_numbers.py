"""Bank numbers: every IBAN Registry example is flagged and redacted when spoken; look-alikes are not flagged.

The IBAN examples are those of the SWIFT IBAN Registry as published in microsoft/presidio's recognizer tests
(../shared/data/text/pii-recognizer-vectors.tsv), with their invalid variants and the phone, fiscal code, SSN and
card vectors of the same file as look-alikes.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from rules.bank_numbers import IBAN_LENGTHS, aba_valid, iban_valid
from rules.engine import CallMonitor
from rules.packs import RuleSet, load_packs
from rules.redact import Redactor, redact_text
from rules.transcripts import transcript_events

EN_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
IT_DIGITS = ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"]
EN_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
NATO = {
    "A": "alpha", "B": "bravo", "C": "charlie", "D": "delta", "E": "echo", "F": "foxtrot", "G": "golf", "H": "hotel",
    "I": "india", "J": "juliet", "K": "kilo", "L": "lima", "M": "mike", "N": "november", "O": "oscar", "P": "papa",
    "Q": "quebec", "R": "romeo", "S": "sierra", "T": "tango", "U": "uniform", "V": "victor", "W": "whiskey",
    "X": "x ray", "Y": "yankee", "Z": "zulu",
}
IT_LETTERS = {
    "B": "bi", "C": "ci", "D": "di", "F": "effe", "G": "gi", "H": "acca", "J": "i lunga", "K": "cappa", "L": "elle",
    "M": "emme", "N": "enne", "P": "pi", "Q": "cu", "R": "erre", "S": "esse", "T": "ti", "V": "vu", "W": "doppia vu",
    "X": "ics", "Y": "ipsilon", "Z": "zeta",
}
# Published routing numbers (Federal Reserve banks and large banks' public ABA numbers).
ROUTING = ("021000021", "011000015", "026009593", "121000358", "111000025", "322271627", "071000013", "091000019",
           "121000248", "061000104")


def _vectors(shared_data: Path) -> list[list[str]]:
    path = shared_data / "text" / "pii-recognizer-vectors.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle, delimiter="\t") if len(row) >= 4]


def registry_examples(shared_data: Path) -> list[str]:
    """The valid registry IBANs of the file (one per country), compact and uppercase."""
    found: dict[str, str] = {}
    for row in _vectors(shared_data):
        compact = row[2].replace(" ", "").upper()
        if row[0] != "test_iban_recognizer.py":
            continue
        for match in re.finditer(r"[A-Z]{2}\d{2}[A-Z0-9]+", compact):
            country = match.group()[:2]
            candidate = match.group()[: IBAN_LENGTHS.get(country, 0)]
            if iban_valid(candidate):
                found.setdefault(country, candidate)
    return sorted(found.values())


def invalid_ibans(shared_data: Path) -> list[str]:
    """The file's IBAN negatives (a character changed, one missing, a wrong check) that are indeed invalid."""
    rows = [r for r in _vectors(shared_data) if r[0] == "test_iban_recognizer.py" and r[3] == "0"]
    values = {r[2].replace(" ", "") for r in rows if r[2].replace(" ", "").isalnum()}
    return sorted(v for v in values if not iban_valid(v.upper()))


def spell(text: str, style: str = "letters") -> str:
    """`text` as a caller would say it: alphanumerics one by one in `style`, other words as they are."""
    out: list[str] = []
    for token in re.findall(r"[A-Za-z0-9]+", text):
        if token.isalpha() and len(token) > 2 and not token.isupper():
            out.append(token.lower())
            continue
        chars = list(token)
        i = 0
        while i < len(chars):
            ch = chars[i]
            if style == "pairs" and ch.isdigit() and ch != "0" and ch != "1" and i + 1 < len(chars) \
                    and chars[i + 1].isdigit() and chars[i + 1] != "0":
                out.append(f"{EN_TENS[int(ch)]} {EN_DIGITS[int(chars[i + 1])]}")
                i += 2
                continue
            if ch.isdigit():
                out.append((IT_DIGITS if style == "italian" else EN_DIGITS)[int(ch)])
            elif style == "nato":
                out.append(NATO[ch.upper()])
            elif style == "italian":
                out.append(IT_LETTERS.get(ch.upper(), ch.lower()))
            else:
                out.append(ch.lower())
            i += 1
    return " ".join(out)


@pytest.fixture(scope="module")
def bank_rules() -> RuleSet:
    return load_packs(builtin=False, optional=["bank-data"])


def flagged(ruleset: RuleSet, line: str, language: str = "en") -> list[str]:
    monitor = CallMonitor(ruleset, call_id="c")
    found = [f for event in transcript_events("c", [line], language) for f in monitor.feed(event)]
    return [f.outcome for f in found if f.outcome != "no_bank_numbers"]


def test_every_registry_example_is_flagged_when_spoken(shared_data: Path, bank_rules: RuleSet) -> None:
    examples = registry_examples(shared_data)
    assert len(examples) >= 75
    missed: list[tuple[str, str]] = []
    for iban in examples:
        for style, language in (("letters", "en"), ("nato", "en"), ("pairs", "en"), ("italian", "it")):
            line = f"customer: my iban is {spell(iban, style)} thank you"
            if flagged(bank_rules, line, language) != ["iban_detected"]:
                missed.append((iban, style))
    assert not missed, missed


def test_every_registry_example_is_redacted_whole_like_a_card(shared_data: Path) -> None:
    for iban in registry_examples(shared_data):
        for style, language in (("letters", "en"), ("italian", "it")):
            spoken = spell(iban, style)
            text = redact_text(f"sure it is {spoken} okay", language)
            assert text == f"sure it is [iban ••••{iban[-4:]}] okay", (iban, style, text)


def test_look_alikes_are_not_flagged(shared_data: Path, bank_rules: RuleSet) -> None:
    look_alikes = [spell(v) for v in invalid_ibans(shared_data)]
    others = [r[2] for r in _vectors(shared_data) if r[0] in (
        "test_phone_recognizer.py", "test_it_fiscal_code_recognizer.py", "test_it_identity_card_recognizer.py",
        "test_us_ssn_recognizer.py", "test_credit_card_recognizer.py", "test_us_itin_recognizer.py",
    )]
    look_alikes += [spell(text) for text in others]
    look_alikes += [
        "my order number is a b one two three four five six seven eight nine zero one two",
        "the tracking number is one z nine nine nine a a one zero one two three four five six seven eight four",
        "it's s w one a one a a",
        "the serial is d e one two three four five six seven eight nine zero one two three four five six seven",
        "my reference is zero two one zero zero zero zero two one",
        "the routing number is one two three four five six seven eight nine",
        "my account number with you is one two three four five six",
    ]
    assert len(look_alikes) >= 150
    wrongly = [text for text in look_alikes if flagged(bank_rules, f"customer: {text}")]
    assert not wrongly, wrongly


def test_routing_numbers_need_their_checksum_and_a_routing_context(bank_rules: RuleSet) -> None:
    for routing in ROUTING:
        assert aba_valid(routing), routing
        spoken = spell(routing)
        assert flagged(bank_rules, f"customer: the routing number is {spoken}") == ["routing_detected"]
        assert flagged(bank_rules, f"customer: my order reference is {spoken}") == []
        broken = routing[:-1] + str((int(routing[-1]) + 1) % 10)
        assert flagged(bank_rules, f"customer: the routing number is {spell(broken)}") == [], broken
    line = f"customer: routing {spell(ROUTING[0])} and account number {spell('987654321012')}"
    assert flagged(bank_rules, line) == ["routing_detected", "account_detected"]
    assert redact_text(line) == "customer: routing [routing ••••0021] and account number [account ••••1012]"


def test_an_iban_opens_a_payment_context_for_the_redactor() -> None:
    redactor = Redactor(lang="en")
    first = redactor.redact(spell("GB82WEST12345698765432").split(), speaker="customer", start=0.0, end=8.0,
                            final=True)
    assert first.text == "[iban ••••5432]"
    words = ["and", "the", "sort", "code", "was", "two", "two"]
    later = redactor.redact(words, speaker="customer", start=10.0, end=12.0, final=True)
    assert later.text == "and the sort code was [number]"


def test_an_iban_in_two_breaths_is_flagged_on_the_second(bank_rules: RuleSet) -> None:
    spoken = spell("DE89370400440532013000").split()
    lines = [f"customer: {' '.join(spoken[:10])}", f"customer: {' '.join(spoken[10:])}"]
    monitor = CallMonitor(bank_rules, call_id="c")
    found = [f for e in transcript_events("c", lines) for f in monitor.feed(e)]
    iban = [f for f in found if f.outcome == "iban_detected"]
    assert len(iban) == 1 and iban[0].details["country"] == "DE" and iban[0].details["last4"] == "3000"
    assert "0532013000" not in iban[0].reason and "three" not in iban[0].reason


def test_half_an_iban_and_one_still_being_read_are_masked_too() -> None:
    first_breath = spell("GB82WEST1234")
    assert redact_text(f"it is {first_breath}") == "it is [number]"  # read in two breaths: the first half
    assert redact_text("it is g b eight two w", partial=True) == "it is [number]"  # a partial, still open
    assert redact_text("the order is a b one two") == "the order is a b one two"  # no country code: left alone
    assert redact_text("it is s w one a one a a") == "it is s w one a one a a"  # a postcode
