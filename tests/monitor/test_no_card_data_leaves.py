"""Property: whatever the call and whichever leg decodes first, no spoken test card number or CVV leaves a call.

A generated call (consent, disclosure, payment and security-code prompts, small talk) carries well-known test
card numbers and a CVV spoken as words in every position: alone, inside a sentence, in a consent answer, split
over utterances, read back by the agent. Its legs' utterances come out of the decoders in a random interleaving
and go the product's way: the audio-time merge, the rules engine (all built-in packs), one redaction. Then no
outward field — finding, report, transcript line, MQTT alert or score payload, /live message, AudioHook transcript
event (text and word tokens), a stored event log's line (what `callwarden backtest` replays) — may hold them.
Every final utterance holding digits is also read by the digit pass (a DigitReading of its digit words), whose
findings go out the same way.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.call.redaction import CallRedaction, redact_digit_reading
from monitor.sinks.live import call_ended_message, finding_message, transcript_message
from monitor.store.rows import alert_payload, score_payload
from monitor.web.transcription_connector import transcripts
from rules.engine import CallMonitor
from rules.eventlog import dumps_event
from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Event, Utterance, Word
from rules.packs import RuleSet, load_packs
from rules.transcripts import transcript_events
from streams.ordering import AudioTimeOrder
from streams.protocols.audiohook_messages import transcript_entity

TEST_PANS = ("4111111111111111", "4242424242424242", "5555555555554444", "378282246310005", "6011111111111117")
TEST_CVV = "737"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RULESET: RuleSet = load_packs()
WALL = 1_700_000_000.0

AGENT_LINES = (
    "thank you for calling acme bank. this call may be recorded for quality and training purposes.",
    "this call may be recorded, do you consent to being recorded?",
    "sure. please read me the card number.",
    "how would you like to pay today?",
    "thank you. is there anything else i can help you with?",
    "let me check that for you",
)
CVV_PROMPTS = ("and the three digit security code on the back", "now the three digit security code, please.")
CUSTOMER_LINES = ("hi i would like to pay my bill", "yes", "no thanks", "what do you mean", "okay", "sure go ahead")
LEAD_INS = ("", "my card is", "it is", "the number is", "okay", "yes", "um sorry", "yes i agree my card is")
TAILS = ("", "thanks", "is that right", "okay", "and that is it")


def spoken(digits: str) -> str:
    return " ".join(WORDS[int(d)] for d in digits)


@st.composite
def card_reading(draw: st.DrawFn) -> list[str]:
    """A test card number read by someone, in one utterance or in groups of at least four digits over several."""
    pan = draw(st.sampled_from(TEST_PANS))
    speaker = draw(st.sampled_from(("customer", "customer", "agent")))
    cuts = sorted(draw(st.sets(st.sampled_from(range(4, len(pan) - 3, 4)), max_size=3)))
    pieces = [pan[a:b] for a, b in zip([0, *cuts], [*cuts, len(pan)], strict=True)]
    lead, tail = draw(st.sampled_from(LEAD_INS)), draw(st.sampled_from(TAILS))
    lines = [spoken(p) for p in pieces]
    lines[0] = f"{lead} {lines[0]}".strip()
    lines[-1] = f"{lines[-1]} {tail}".strip()
    return [f"{speaker}: {line}" for line in lines]


@st.composite
def cvv_exchange(draw: st.DrawFn) -> list[str]:
    """An agent's security-code prompt and the customer's answer (maybe after a short aside)."""
    answer = f"{draw(st.sampled_from(LEAD_INS))} {spoken(TEST_CVV)} {draw(st.sampled_from(TAILS))}".strip()
    aside = draw(st.sampled_from(([], ["customer: hang on"], ["customer: okay"])))
    return [f"agent: {draw(st.sampled_from(CVV_PROMPTS))}", *aside, f"customer: {answer}"]


@st.composite
def call_script(draw: st.DrawFn) -> list[str]:
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(AGENT_LINES).map(lambda t: [f"agent: {t}"]),
                st.sampled_from(CUSTOMER_LINES).map(lambda t: [f"customer: {t}"]),
                card_reading(),
                cvv_exchange(),
            ),
            min_size=1,
            max_size=7,
        )
    )
    lines = [line for part in parts for line in part]
    if not any(spoken(pan)[:9] in line or spoken(TEST_CVV) in line for line in lines for pan in TEST_PANS):
        lines += draw(card_reading())
    return lines


def decoded_order(events: list[Event], picks: list[int]) -> list[Event]:
    """The events as the call hands them on when its legs decode in the interleaving `picks` (leg per step)."""
    legs: dict[int, list[Utterance]] = {0: [], 1: []}
    for event in events:
        if isinstance(event, Utterance):
            legs[event.channel].append(event)
    first, last = events[0], events[-1]
    assert isinstance(first, CallStarted) and isinstance(last, CallEnded)
    order = AudioTimeOrder(2)
    decoded = [0.0, 0.0]
    out: list[Event] = [first]
    tick = 1.0
    steps = iter(picks)
    while legs[0] or legs[1]:
        leg = next(steps, 0 if legs[0] else 1)
        if not legs[leg]:
            decoded[leg] = math.inf  # nothing more on this leg: its decoder runs on through silence
            continue
        utterance = legs[leg].pop(0)
        order.add(utterance)
        reading = digit_reading(utterance)
        if reading is not None:
            order.add(reading)
        decoded[leg] = utterance.end
        clock = min(decoded)
        out.extend(order.release(clock))
        while tick <= clock and tick < last.at:
            out.append(AudioTick(first.call_id, tick))
            tick += 1.0
    out.extend(order.flush())
    while tick < last.at:
        out.append(AudioTick(first.call_id, tick))
        tick += 1.0
    out.append(last)
    return out


def digit_reading(utterance: Utterance) -> DigitReading | None:
    """What the digit pass would read in a final utterance holding digits: its digit words, "[unk]" for the rest."""
    if not utterance.final or sum(w.text in WORDS or w.text == "oh" for w in utterance.words) < 2:
        return None
    words = tuple(Word(w.text if w.text in WORDS or w.text == "oh" else "[unk]", w.start, w.end, 0.9)
                  for w in utterance.words)
    return DigitReading(utterance.call_id, utterance.speaker, utterance.channel, utterance.index, words,
                        utterance.start, utterance.end, True)


def outward(events: list[Event]) -> list[Any]:
    """Everything that leaves the call, as a CallSession and the service build it."""
    monitor = CallMonitor(RULESET, call_id="prop")
    redaction = CallRedaction("en")
    sent: list[Any] = []
    for event in events:
        findings = monitor.feed(event)
        if isinstance(event, Utterance):
            line, logged = redaction.line_and_event(event)
            sent.append(dumps_event(logged))  # the stored event log's line (monitor/call/session.py `_log`)
            sent.append(transcript_message("prop", event, line.text))
            connector = transcripts("30b0e395-84d3-4570-ac13-9a62d8f514c0", event, line, "en-US")
            sent += [transcript_entity(transcript) for transcript in connector]
            assert all(t.tokens == () or " ".join(w.value for w in t.tokens) == t.text for t in connector)
        elif isinstance(event, DigitReading):
            sent.append(dumps_event(redact_digit_reading(event)))
        for finding in map(redaction.finding, findings):
            sent += [finding.to_json(), finding_message(finding, WALL), alert_payload(finding.to_json(), WALL)]
    report = redaction.report(monitor.report())
    assert isinstance(events[-1], CallEnded)
    sent += [
        report,
        call_ended_message("prop", "hangup", WALL, report),
        score_payload("prop", report, status="completed", end_reason="hangup", passed=None, score=None,
                      audio_seconds=events[-1].at, ended_wall=WALL),
    ]
    return sent


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.lower()]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings(k) + strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return []


def _card_patterns() -> re.Pattern[str]:
    spoken_windows = {spoken(pan[i : i + 4]) for pan in TEST_PANS for i in range(len(pan) - 3)}
    written_windows = {pan[i : i + 6] for pan in TEST_PANS for i in range(len(pan) - 5)}
    alternatives = sorted(spoken_windows | written_windows | {spoken(TEST_CVV)}, key=len, reverse=True)
    return re.compile("|".join(re.escape(a) for a in alternatives))


CARD_DATA = _card_patterns()


def leaks(texts: list[str], pattern: re.Pattern[str] = CARD_DATA) -> list[str]:
    """The lines of `texts` (words and digit runs only) that `pattern` finds in: by default card data, i.e. four
    consecutive digits of a test card spoken, six written, or the CVV spoken."""
    lines = "\n".join(" ".join(re.findall(r"[a-z]+|\d+", text)) for text in set(texts))
    return [line for line in lines.split("\n") if pattern.search(line)]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=call_script(), picks=st.lists(st.integers(0, 1), max_size=60))
def test_no_outward_field_holds_card_data(script: list[str], picks: list[int]) -> None:
    events = decoded_order(transcript_events("prop", script), picks)
    texts = strings(outward(events))
    assert leaks(texts) == [], json.dumps(script)
