"""The pci rule on the digit pass's readings (rules.events.DigitReading): which pass decides, one alert per
reading, never a number neither pass heard, and the other rule kinds never see a reading."""

from __future__ import annotations

from rules.digit_readings import reading_digits
from rules.engine import CallMonitor
from rules.eventlog import dumps_event, loads_events
from rules.events import CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance, Word
from rules.findings import Finding
from rules.packs import load_packs

PACKS = load_packs()
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VISA = "4111111111111111"  # test cards (shared/data/text/test-pans.tsv)
MASTERCARD = "5555555555554444"
LUHN_FAILS = "5555555555554445"


def words_of(digits: str, start: float, step: float = 0.5, unk_at: tuple[int, ...] = ()) -> tuple[Word, ...]:
    words: list[Word] = []
    t = start
    for i, d in enumerate(digits):
        if i in unk_at:
            words.append(Word("[unk]", t, t + 0.3, 0.5))
            t += step
        words.append(Word(NAMES[int(d)], t, t + 0.4, 0.9))
        t += step
    return tuple(words)


def reading(digits: str, start: float, final: bool = True, index: int = 0, speaker: Speaker = Speaker.CUSTOMER,
            unk_at: tuple[int, ...] = ()) -> DigitReading:
    words = words_of(digits, start, unk_at=unk_at)
    return DigitReading("c", speaker, 1 if speaker is Speaker.CUSTOMER else 0, index, words, words[0].start,
                        words[-1].end, final)


def utterance(text: str, start: float, speaker: Speaker = Speaker.AGENT, index: int = 0) -> Utterance:
    tokens = text.split()
    words = tuple(Word(w, start + 0.4 * i, start + 0.4 * i + 0.35) for i, w in enumerate(tokens))
    channel = 0 if speaker is Speaker.AGENT else 1
    return Utterance("c", speaker, channel, index, text, words, words[0].start, words[-1].end, True)


def run(events: list[Event]) -> list[Finding]:
    monitor = CallMonitor(PACKS, call_id="c")
    return [f for e in [CallStarted("c"), *events, CallEnded("c", 200.0)] for f in monitor.feed(e)]


def pci(findings: list[Finding], outcome: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == "pci.pan-spoken" and f.outcome == outcome]


PROMPT = "sure please read me the long card number"


def test_a_luhn_valid_digit_pass_reading_is_a_pan_the_digit_pass_decided() -> None:
    found = run([utterance(PROMPT, 1.0), reading(MASTERCARD, 5.0)])
    pans = pci(found, "pan_detected")
    assert len(pans) == 1
    assert pans[0].details["pass"] == "digits" and pans[0].details["last4"] == "4444"
    assert pans[0].speaker is Speaker.CUSTOMER and pans[0].start == 5.0
    assert MASTERCARD not in pans[0].evidence + pans[0].reason
    assert not any(ch.isdigit() for ch in pans[0].evidence.replace("16 digits", ""))


def test_an_open_reading_fires_at_the_brands_length_and_the_final_adds_nothing() -> None:
    found = run([utterance(PROMPT, 1.0), reading(VISA[:12], 5.0, final=False), reading(VISA, 5.0, final=False),
                 reading(VISA + "7", 5.0, final=True)])
    pans = pci(found, "pan_detected")
    assert [(p.details["pass"], p.details["partial"]) for p in pans] == [("digits", True)]


def test_a_luhn_failing_reading_in_a_payment_context_is_possible_pan_once() -> None:
    found = run([utterance(PROMPT, 1.0), reading(LUHN_FAILS, 5.0, final=False), reading(LUHN_FAILS, 5.0)])
    assert pci(found, "pan_detected") == []
    possible = pci(found, "possible_pan")
    assert len(possible) == 1 and possible[0].details == {
        "digit_count": 16, "last4": "4445", "utterances": 1, "luhn": False, "pass": "digits"}


def test_without_payment_context_a_failing_reading_raises_nothing() -> None:
    found = run([reading(LUHN_FAILS, 5.0)])
    assert pci(found, "possible_pan") == [] and pci(found, "pan_detected") == []


def test_a_short_reading_like_a_phone_number_raises_nothing() -> None:
    found = run([utterance(PROMPT, 1.0), reading("5551234567", 5.0)])
    assert not [f for f in found if f.rule_id.startswith("pci.") and f.outcome != "no_sensitive_numbers"]


def test_first_pass_pan_and_an_overlapping_digit_reading_give_one_alert() -> None:
    spoken = "it is " + " ".join(NAMES[int(d)] for d in VISA)
    first = utterance(spoken, 5.0, Speaker.CUSTOMER)
    found = run([utterance(PROMPT, 1.0), first, reading(MASTERCARD, 5.8)])
    pans = pci(found, "pan_detected")
    assert [p.details["pass"] for p in pans] == ["first"]


def test_a_first_pass_possible_pan_is_upgraded_when_the_digit_pass_hears_the_card() -> None:
    misheard = "it is " + " ".join(NAMES[int(d)] for d in LUHN_FAILS)
    found = run([utterance(PROMPT, 1.0), utterance(misheard, 5.0, Speaker.CUSTOMER), utterance(
        "thank you your payment is complete", 14.0), reading(MASTERCARD, 5.8)])
    assert [p.details["pass"] for p in pci(found, "possible_pan")] == ["first"]
    assert [p.details["pass"] for p in pci(found, "pan_detected")] == ["digits"]


def test_no_number_pieced_together_from_both_passes() -> None:
    # each pass is one digit off, in different places: together they would spell the card; neither heard it whole
    first_heard = "5555555555554445"
    second_heard = "5555555555554494"
    assert reading_digits(words_of(second_heard, 0.0))[0] == second_heard
    misheard = "it is " + " ".join(NAMES[int(d)] for d in first_heard)
    found = run([utterance(PROMPT, 1.0), utterance(misheard, 5.0, Speaker.CUSTOMER), reading(second_heard, 5.8)])
    assert pci(found, "pan_detected") == []
    assert len(pci(found, "possible_pan")) == 1


def test_unknown_words_split_segments_so_a_card_is_found_before_trailing_digits() -> None:
    assert reading_digits(words_of(MASTERCARD + "0427", 0.0, unk_at=(16,))) == (MASTERCARD + "0427", (16,))
    found = run([utterance(PROMPT, 1.0), reading(MASTERCARD + "0427", 5.0, unk_at=(16,))])
    assert [p.details["last4"] for p in pci(found, "pan_detected")] == ["4444"]


def test_other_rule_kinds_never_see_a_reading() -> None:
    # a reading must not end the call for the other kinds (their feed treats unknown events as the end)
    with_reading = run([utterance("this call may be recorded for quality and training", 1.0),
                        reading(MASTERCARD, 5.0)])
    without = run([utterance("this call may be recorded for quality and training", 1.0)])
    other = [(f.rule_id, f.outcome) for f in with_reading if not f.rule_id.startswith("pci.")]
    assert other == [(f.rule_id, f.outcome) for f in without if not f.rule_id.startswith("pci.")]


def test_a_reading_round_trips_through_the_event_log_and_replays_identically() -> None:
    events: list[Event] = [CallStarted("c"), utterance(PROMPT, 1.0), reading(MASTERCARD, 5.0, final=False),
                           reading(MASTERCARD, 5.0), CallEnded("c", 30.0)]
    text = "".join(dumps_event(e) + "\n" for e in events)
    assert loads_events(text) == events

    def findings(evs: list[Event]) -> list[dict[str, object]]:
        monitor = CallMonitor(PACKS, call_id="c")
        return [f.to_json() for e in evs for f in monitor.feed(e)]

    assert findings(loads_events(text)) == findings(events)
