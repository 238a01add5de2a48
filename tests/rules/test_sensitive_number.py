"""The sensitive_number rule kind: test PANs in many spoken styles, near misses, streaming, Italian, params."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from rules.cards import PAN_MAX_DIGITS, PAN_MIN_DIGITS, luhn_valid
from rules.events import Event, Speaker, Utterance
from rules.findings import Finding, Severity
from rules.kinds import rule_class
from rules.kinds.sensitive_number import SensitiveNumberRule
from rules.model import RuleSpec
from tests.rules.sensitive_number_speech import (
    IT_DIGITS,
    Line,
    call_events,
    line,
    say_grouped_with_fillers,
    say_pairs,
    say_plain,
    say_repeats,
)

FAILING = {"pan_detected", "cvv_detected", "ssn_detected"}


def _spec(params: dict[str, Any] | None = None, language: str = "en") -> RuleSpec:
    return RuleSpec("pci.test", "sensitive_number", "pci", "1.0.0", language, Severity.CRITICAL,
                    params=params or {})


def _run(events: Sequence[Event], params: dict[str, Any] | None = None) -> list[tuple[Event, Finding]]:
    rule = SensitiveNumberRule(_spec(params))
    return [(event, finding) for event in events for finding in rule.feed(event)]


def _pans(path: Path) -> list[str]:
    rows = (path / "text" / "test-pans.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t")[0] == "digits"
    return sorted({row.split("\t")[0] for row in rows[1:]})


def _one(words: list[str]) -> list[Line]:
    return [line("customer", ["my card number is", *words, "thanks"])]


def _split(digits: str, say: Callable[[str], list[str]]) -> list[Line]:
    """The first half (an even count, so pairs stay whole) in one utterance, the rest in the next."""
    half = len(digits) // 4 * 2
    return [line("customer", ["my card number is", *say(digits[:half])]), line("customer", say(digits[half:]))]


def _say_oh(digits: str) -> list[str]:
    return say_plain(digits, zero="oh")


STYLES: dict[str, tuple[Callable[[str], list[Line]], bool]] = {
    "plain": (lambda d: _one(say_plain(d)), False),
    "oh-for-zero": (lambda d: _one(_say_oh(d)), False),
    "double-triple": (lambda d: _one(say_repeats(d)), False),
    "pairs": (lambda d: _one(say_pairs(d)), False),
    "grouped-fillers": (lambda d: _one(say_grouped_with_fillers(d)), False),
    "split-utterances": (lambda d: _split(d, _say_oh), False),
    "streaming-partials": (lambda d: _one(say_plain(d)), True),
    "streaming-split-pairs": (lambda d: _split(d, say_pairs), True),
    "written-digits": (lambda d: _one([d[i : i + 4] for i in range(0, len(d), 4)]), False),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_acceptance_test_pans_flagged_exactly_when_luhn_valid(shared_data: Path, style: str) -> None:
    speak, partials = STYLES[style]
    pans = _pans(shared_data)
    assert len(pans) >= 60
    for digits in pans:
        expected = luhn_valid(digits) and PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS
        found = [f for _e, f in _run(call_events(speak(digits), partials=partials))]
        pan = [f for f in found if f.outcome == "pan_detected"]
        assert len(pan) == (1 if expected else 0), (style, digits, [(f.outcome, f.reason) for f in found])
        assert {f.outcome for f in found} <= {"pan_detected", "possible_pan", "no_sensitive_numbers"}
        if pan:
            assert pan[0].details["last4"] == digits[-4:] and pan[0].details["digit_count"] == len(digits)
            assert pan[0].speaker is Speaker.CUSTOMER and "Luhn valid" in pan[0].reason
        for finding in found:
            assert digits[:6] not in finding.evidence + finding.reason + str(finding.details), finding


def test_fires_on_the_partial_that_completes_the_number() -> None:
    words = say_plain("4111111111111111")
    events = call_events([line("customer", ["it's", *words, "and", "the", "expiry"])])
    hits = _run(events)
    assert [f.outcome for _e, f in hits] == ["pan_detected"]
    event, finding = hits[0]
    assert isinstance(event, Utterance) and not event.final
    assert len(event.words) == 1 + 16  # exactly the partial holding the 16th digit
    assert finding.details["partial"] is True
    assert finding.evidence == "it's [card ••••1111]"
    assert finding.end == pytest.approx(event.words[-1].end)


def test_amex_fires_at_fifteen_digits_on_a_partial() -> None:
    events = call_events([line("customer", [*say_pairs("378282246310005"), "okay"])])
    (event, _finding), = _run(events)
    assert isinstance(event, Utterance) and not event.final


def test_split_over_two_utterances_is_one_finding() -> None:
    digits = "5555555555554444"
    events = call_events([line("customer", say_plain(digits[:7])), line("customer", say_plain(digits[7:]))])
    (_event, finding), = [h for h in _run(events) if h[1].outcome == "pan_detected"]
    assert finding.details["utterances"] == 2 and "split over 2 utterances" in finding.reason


def test_long_gap_breaks_the_run() -> None:
    digits = "5555555555554444"
    events = call_events([line("customer", say_plain(digits[:7]), 1.0), line("customer", say_plain(digits[7:]), 30.0)])
    assert not [f for _e, f in _run(events) if f.outcome == "pan_detected"]


def test_agent_read_back_is_its_own_finding() -> None:
    words = say_plain("4242424242424242")
    events = call_events([line("customer", words), line("agent", ["so that's", *words])])
    pans = [f for _e, f in _run(events) if f.outcome == "pan_detected"]
    assert [(f.speaker, f.details["read_back"]) for f in pans] == [(Speaker.CUSTOMER, False), (Speaker.AGENT, True)]
    assert "read back" in pans[1].reason


def test_outcome_fails_on_pan_and_passes_clean_call() -> None:
    rule = SensitiveNumberRule(_spec())
    for event in call_events([line("customer", "my phone is five five five one two three four five six seven")]):
        rule.feed(event)
    assert rule.outcome().passed is True
    rule = SensitiveNumberRule(_spec())
    for event in call_events(_one(say_plain("4111111111111111"))):
        rule.feed(event)
    assert rule.outcome().passed is False


@pytest.mark.parametrize(
    "text",
    [
        "you can reach me on five five five one two three four five six seven",
        "my mobile is plus forty four seven seven double oh nine double oh one two three",
        "is that the card ending in four two four two",
        "the total is two thousand four hundred dollars",
        "a hundred dollars and twenty five cents",
        "it was the twenty first of march twenty twenty four",
        "my order reference is one two three four five six seven eight nine",
        "I'm twenty and one of them is nineteen",
        "four one one one four one one one four one one one four one one two",
        "account number four zero one two eight eight eight eight eight eight eight eight one eight eight two",
        "call 415 555 0132 or +1 415 555 0132",
    ],
)
def test_acceptance_near_misses_are_not_pans(text: str) -> None:
    found = [f for _e, f in _run(call_events([line("customer", text)]))]
    assert not [f for f in found if f.outcome in FAILING], [(f.outcome, f.reason) for f in found]


def test_luhn_failing_number_in_payment_context_is_possible_pan() -> None:
    text = "my card number is four zero one two eight eight eight eight eight eight eight eight one eight eight two"
    outcomes = [f.outcome for _e, f in _run(call_events([line("customer", text)]))]
    assert outcomes == ["possible_pan", "no_sensitive_numbers"]
    outcomes = [f.outcome for _e, f in _run(call_events([line("customer", text)]),
                                            {"possible_requires_context": True, "context_window_seconds": 1})]
    assert "possible_pan" in outcomes


@pytest.mark.parametrize(
    "words",
    [
        say_plain("4111111111111111", names=IT_DIGITS),
        ["cinque", "cinque", "cinque", "cinque", "doppio", "cinque", "doppio", "cinque", "cinquantacinque",
         "cinquantacinque", "quarantaquattro", "quarantaquattro"],
        ["tre", "sette", "otto", "due", "ehm", "otto", "due", "due", "quattro", "scusi", "sei", "tre", "uno",
         "triplo", "zero", "cinque"],
    ],
)
def test_italian_card_numbers(words: list[str]) -> None:
    rule = SensitiveNumberRule(_spec(language="it"))
    events = call_events([line("customer", ["il numero della carta è", *words])], language="it")
    found = [f for e in events for f in rule.feed(e)]
    assert [f.outcome for f in found] == ["pan_detected"]


def test_italian_call_language_switches_the_lexicon() -> None:
    events = call_events([line("customer", say_plain("4111111111111111", names=IT_DIGITS))], language="it-IT")
    assert [f.outcome for _e, f in _run(events)] == ["pan_detected"]  # an English rule, an Italian call
    english = call_events([line("customer", say_plain("4111111111111111", names=IT_DIGITS))])
    assert [f.outcome for _e, f in _run(english)] == ["no_sensitive_numbers"]


def test_cvv_expiry_ssn() -> None:
    events = call_events([
        line("agent", "can I have the security code please"), line("customer", "it's nine eight seven"),
        line("agent", "and the expiry date"), line("customer", "oh four twenty seven"),
        line("agent", "and your social security number"), line("customer", "seven double nine one two three double "
                                                                          "one three"),
    ])
    found = _run(events)
    assert [f.outcome for _e, f in found] == ["cvv_detected", "expiry_detected", "ssn_detected"]
    assert all("[number]" in f.evidence and "nine" not in f.evidence for _e, f in found)


def test_detectors_param_limits_outcomes() -> None:
    events = call_events([line("agent", "what's the cvv"), line("customer", "one two three")])
    assert [f.outcome for _e, f in _run(events, {"detectors": ["pan"]})] == ["no_sensitive_numbers"]


def test_check_params_reports_each_problem() -> None:
    cls = rule_class("sensitive_number")
    assert cls.check_params({}) == []
    errors = cls.check_params({"detectors": ["pan", "iban"], "min_pan_digits": 20, "bogus": 1,
                               "continuation_gap_seconds": -1, "severities": {"pan_detected": "severe"},
                               "context": {"payment": {"en": "card"}}})
    fields = {e.field for e in errors}
    assert {"detectors[1]", "min_pan_digits", "bogus", "continuation_gap_seconds", "severities.pan_detected",
            "context.payment"} <= fields
    with pytest.raises(ValueError, match="detectors"):
        SensitiveNumberRule(_spec({"detectors": "pan"}))


def test_pci_pack_examples_pass() -> None:
    from rules.examples import run_examples
    from rules.packs import load_pack_text

    path = Path(__file__).resolve().parents[2] / "rules" / "packs" / "pci.yaml"
    specs = load_pack_text(path.read_text(encoding="utf-8"), str(path)).rules
    assert {spec.id for spec in specs} >= {"pci.pan-spoken", "pci.cvv-spoken", "pci.expiry-spoken", "pci.ssn-spoken"}
    failed = [(r.rule_id, r.name, r.message) for r in run_examples(specs) if not r.passed]
    assert failed == []
