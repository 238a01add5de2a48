"""Card rules on real ASR text: a leading "for" that is a four, answers transcribed before their prompt, short codes
masked after a card number, and a pan rule summary that agrees with its possible_pan findings."""

from __future__ import annotations

from rules.engine import CallMonitor
from rules.events import CallEnded, CallStarted, Event, Speaker, Utterance, Word
from rules.findings import Finding
from rules.model import RuleSpec
from rules.packs import load_packs
from rules.redact import Redactor

PACKS = load_packs()
PAN, CVV = PACKS.rule("pci.pan-spoken"), PACKS.rule("pci.cvv-spoken")
FIFTEEN_ONES = " ".join(["one"] * 15)


def _final(speaker: Speaker, index: int, text: str, start: float) -> Utterance:
    words = tuple(Word(w, start + i * 0.35, start + (i + 1) * 0.35) for i, w in enumerate(text.split()))
    channel = 0 if speaker is Speaker.AGENT else 1
    return Utterance("c", speaker, channel, index, text, words, start, words[-1].end, True)


def _run(events: list[Event], *specs: RuleSpec) -> tuple[CallMonitor, list[Finding]]:
    monitor = CallMonitor(list(specs), call_id="c")
    return monitor, [f for e in events for f in monitor.feed(e)]


def test_leading_for_completes_a_visa_number() -> None:
    events: list[Event] = [
        CallStarted("c"),
        _final(Speaker.CUSTOMER, 0, f"it is for {FIFTEEN_ONES}", 1.0),
        CallEnded("c", 20.0),
    ]
    _monitor, found = _run(events, PAN)
    pans = [f for f in found if f.outcome == "pan_detected"]
    assert len(pans) == 1 and pans[0].details["leading_homophone"] is True
    assert pans[0].details["last4"] == "1111" and pans[0].details["digit_count"] == 16
    assert "possible_pan" not in {f.outcome for f in found}


def test_leading_for_is_not_a_digit_when_it_makes_no_card() -> None:
    text = "thanks for one two three four five six seven eight nine zero one two three four five"
    events: list[Event] = [CallStarted("c"), _final(Speaker.CUSTOMER, 0, f"my card {text}", 1.0), CallEnded("c", 20.0)]
    _monitor, found = _run(events, PAN)
    assert "pan_detected" not in {f.outcome for f in found}


def test_a_run_that_is_a_card_by_itself_ignores_the_homophone() -> None:
    text = "waiting for five five five five five five five five five five five five four four four four"
    events: list[Event] = [CallStarted("c"), _final(Speaker.CUSTOMER, 0, text, 1.0), CallEnded("c", 20.0)]
    _monitor, found = _run(events, PAN)
    pans = [f for f in found if f.outcome == "pan_detected"]
    assert len(pans) == 1 and pans[0].details["leading_homophone"] is False and pans[0].details["last4"] == "4444"


def test_code_transcribed_before_its_prompt_is_still_a_cvv() -> None:
    prompt = _final(Speaker.AGENT, 0, "and you and the three digit if you're really going on the back", 31.9)
    code = _final(Speaker.CUSTOMER, 0, "seven three seven", prompt.end + 0.5)
    events: list[Event] = [CallStarted("c"), code, prompt, CallEnded("c", 45.0)]
    _monitor, found = _run(events, CVV)
    assert [f.outcome for f in found] == ["cvv_detected"]


def test_code_said_before_the_prompt_began_is_not_its_answer() -> None:
    code = _final(Speaker.CUSTOMER, 0, "seven three seven", 20.0)
    prompt = _final(Speaker.AGENT, 0, "what is the three digit security code", 30.0)
    events: list[Event] = [CallStarted("c"), code, prompt, CallEnded("c", 45.0)]
    _monitor, found = _run(events, CVV)
    assert "cvv_detected" not in {f.outcome for f in found}


def test_pan_summary_mentions_possible_card_numbers() -> None:
    text = "the card number is four zero one two eight eight eight eight eight eight eight eight one eight eight two"
    events: list[Event] = [CallStarted("c"), _final(Speaker.CUSTOMER, 0, text, 1.0), CallEnded("c", 20.0)]
    monitor, found = _run(events, PAN)
    assert [f.outcome for f in found] == ["possible_pan", "no_sensitive_numbers"]
    outcome = monitor.outcomes()[0]
    assert outcome.passed is True and "possible card number" in outcome.summary
    assert "no card number" not in found[-1].reason and "possible card number" in found[-1].reason


def test_short_code_after_a_card_number_is_masked_even_without_a_recognized_prompt() -> None:
    redactor = Redactor("en")
    card = _final(Speaker.CUSTOMER, 0, f"it is for {FIFTEEN_ONES}", 23.5)
    garbled_prompt = _final(Speaker.AGENT, 0, "and you and the three digit if you are really going", 31.9)
    code = _final(Speaker.CUSTOMER, 1, "seven three seven", 35.5)
    assert "one one" not in redactor.redact_utterance(card)
    assert redactor.redact_utterance(code) == "[number]"  # arrives before the agent's (garbled) prompt
    redactor.redact_utterance(garbled_prompt)


def test_short_numbers_outside_a_payment_context_stay_readable() -> None:
    redactor = Redactor("en")
    assert redactor.redact_utterance(_final(Speaker.CUSTOMER, 0, "I have three two one reasons", 1.0)) == (
        "I have three two one reasons"
    )
    late = _final(Speaker.CUSTOMER, 1, "room seven three seven", 200.0)
    redactor.redact_utterance(_final(Speaker.AGENT, 0, "how will you pay", 100.0))
    assert redactor.redact_utterance(late) == "room seven three seven"
