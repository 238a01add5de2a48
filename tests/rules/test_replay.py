"""Acceptance 5: replaying a stored event log reproduces byte-identical findings; the engine never raises."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.engine import CallMonitor
from rules.eventlog import dumps_event, event_from_json, event_to_json, loads_events
from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance, Word
from rules.packs import RuleSet, load_packs

DATA = Path(__file__).resolve().parent / "data"
GOLDEN_PACKS = {"recording-disclosure", "consent", "gdpr", "conduct"}
RULESET = load_packs()


def golden_ruleset() -> RuleSet:
    """The packs the stored findings were produced with (other packs may be added to rules/packs later)."""
    return RuleSet(tuple(p for p in RULESET.packs if p.id in GOLDEN_PACKS))


def replay_findings_jsonl(events: list[Event], ruleset: RuleSet) -> str:
    monitor = CallMonitor(ruleset)
    findings = [f for e in events for f in monitor.feed(e)]
    return "".join(json.dumps(f.to_json(), sort_keys=True, ensure_ascii=False) + "\n" for f in findings)


def test_replay_reproduces_stored_findings_byte_for_byte() -> None:
    events = loads_events((DATA / "replay-call.jsonl").read_text(encoding="utf-8"))
    stored = (DATA / "replay-call.findings.jsonl").read_bytes()
    assert replay_findings_jsonl(events, golden_ruleset()).encode() == stored
    assert replay_findings_jsonl(events, golden_ruleset()).encode() == stored


def test_stored_log_round_trips_exactly() -> None:
    text = (DATA / "replay-call.jsonl").read_text(encoding="utf-8")
    events = loads_events(text)
    assert "".join(dumps_event(e) + "\n" for e in events) == text
    assert {type(e) for e in events} == {CallStarted, Utterance, AudioTick, CallEnded}


CALL_IDS = st.sampled_from(["c1", "c2"])
TIMES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-5, 120))
TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "this call may be recorded",
            "do you consent to being recorded",
            "yes",
            "no",
            "I'd rather not",
            "please stop recording this",
            "you will be arrested",
            "delete my data",
            "",
            "   ",
            "sì certo",
            "questa chiamata viene registrata",
            "four one one one",
            "don't",
            "'",
            "l'",
            "ok ok ok",
        ]
    ),
)
WORDS = st.lists(st.builds(Word, st.text(max_size=12), TIMES, TIMES, st.floats(0, 1)), max_size=6)
UTTERANCES = st.builds(
    Utterance,
    CALL_IDS,
    st.sampled_from(list(Speaker)),
    st.integers(-1, 3),
    st.integers(-2, 5),
    TEXTS,
    WORDS.map(tuple),
    TIMES,
    TIMES,
    st.booleans(),
)
EVENTS = st.one_of(
    st.builds(CallStarted, CALL_IDS, TIMES, st.sampled_from(["en", "it", "it-IT", "", "xx", "EN_us"])),
    UTTERANCES,
    st.builds(AudioTick, CALL_IDS, TIMES),
    st.builds(CallEnded, CALL_IDS, TIMES, st.text(max_size=8)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENTS, max_size=30))
def test_engine_never_raises_on_arbitrary_event_sequences(events: list[Event]) -> None:
    monitor = CallMonitor(RULESET)
    findings = [f for e in events for f in monitor.feed(e)]
    report = monitor.report()
    json.dumps(report, allow_nan=False)
    assert len({f.finding_id for f in findings}) == len(findings)
    assert all(f.call_id == monitor.call_id for f in findings)
    assert sum(monitor.stats.values()) - monitor.stats["auto_started"] - monitor.stats["clamped_end"] == len(events)


@settings(max_examples=200, deadline=None)
@given(EVENTS)
def test_event_json_round_trip(event: Event) -> None:
    decoded = event_from_json(json.loads(json.dumps(event_to_json(event))))
    assert dumps_event(decoded) == dumps_event(event)


def test_replay_of_a_real_call_reproduces_the_digit_pass_findings() -> None:
    """Issue #15 acceptance 4: a real call (FSDD voice reading the test card 5555555555554444) recorded with the
    digit pass on; its readings are events, so the log replays to the stored findings byte for byte."""
    text = (DATA / "fsdd-digit-pass-call.jsonl").read_text(encoding="utf-8")
    events = loads_events(text)
    assert "".join(dumps_event(e) + "\n" for e in events) == text
    assert any(isinstance(e, DigitReading) for e in events)
    stored = (DATA / "fsdd-digit-pass-call.findings.jsonl").read_bytes()
    assert replay_findings_jsonl(events, RULESET).encode() == stored
    decided = [json.loads(line)["details"].get("pass") for line in stored.decode().splitlines()
               if json.loads(line)["outcome"] == "pan_detected"]
    assert decided == ["digits"]
