"""CallMonitor: deterministic ids, lifecycle edge cases (counted, never raised), deadlines, single firing."""

from __future__ import annotations

import math

import pytest

from rules.engine import CallMonitor, finding_id
from rules.events import AudioTick, CallEnded, CallStarted, Speaker, Utterance, Word
from rules.findings import Severity
from rules.packs import RuleSet, load_packs
from rules.transcripts import transcript_events


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_packs()


def utt(
    text: str, start: float, final: bool = True, index: int = 0, speaker: Speaker = Speaker.AGENT, call_id: str = "c1"
) -> Utterance:
    words = tuple(Word(w, start + i * 0.3, start + (i + 1) * 0.3) for i, w in enumerate(text.split()))
    end = words[-1].end if words else start
    channel = 0 if speaker is Speaker.AGENT else 1
    return Utterance(call_id, speaker, channel, index, text, words, start, end, final)


def test_finding_ids_are_stable_and_filled(ruleset: RuleSet) -> None:
    events = transcript_events("call-7", ["agent: this call may be recorded", "customer: hello"])
    runs = []
    for _ in range(2):
        monitor = CallMonitor(ruleset)
        runs.append([f for e in events for f in monitor.feed(e)])
    assert [f.to_json() for f in runs[0]] == [f.to_json() for f in runs[1]]
    said = next(f for f in runs[0] if f.outcome == "said")
    assert said.finding_id == finding_id("call-7", "disclosure.recording", "said", 0)
    assert len(said.finding_id) == 16 and int(said.finding_id, 16) >= 0
    assert (said.pack_id, said.pack_version) == ("recording-disclosure", "2.2.0")
    assert len({f.finding_id for f in runs[0]}) == len(runs[0])


def test_odd_sequences_are_ignored_and_counted(ruleset: RuleSet) -> None:
    monitor = CallMonitor(ruleset)
    assert monitor.feed(utt("hello there", 1.0)) == []  # auto-starts the call c1
    assert monitor.started and monitor.stats["auto_started"] == 1
    monitor.feed(CallStarted("c1"))
    monitor.feed(utt("guaranteed returns", 2.0, call_id="other"))
    monitor.feed(AudioTick("c1", 5.0))
    monitor.feed(AudioTick("c1", 4.0))
    monitor.feed(AudioTick("c1", math.nan))
    monitor.feed(utt("late final", 6.0, index=3))
    monitor.feed(utt("late", 6.0, final=False, index=3))
    monitor.feed(CallEnded("c1", 2.0))
    monitor.feed(utt("you will be arrested", 8.0, index=4))
    assert monitor.stats["duplicate_start"] == 1
    assert monitor.stats["other_call"] == 1
    assert monitor.stats["stale_tick"] == 1
    assert monitor.stats["invalid_time"] == 1
    assert monitor.stats["late_partial"] == 1
    assert monitor.stats["clamped_end"] == 1
    assert monitor.stats["after_end"] == 1
    assert not [f for f in monitor.findings if f.outcome == "forbidden_said"]
    assert monitor.report()["ended_at"] == 6.0 + 2 * 0.3


def test_not_said_fires_at_the_deadline_on_a_tick(ruleset: RuleSet) -> None:
    spec = ruleset.rule("disclosure.recording")
    monitor = CallMonitor([spec])
    monitor.feed(CallStarted("c1", 0.0, "en"))
    assert monitor.feed(AudioTick("c1", 30.5)) == []  # inside the 1 s grace
    fired = monitor.feed(AudioTick("c1", 31.0))
    assert [(f.outcome, f.start, f.severity) for f in fired] == [("not_said", 30.0, Severity.HIGH)]
    assert "30 s" in fired[0].reason
    assert monitor.feed(AudioTick("c1", 40.0)) == []
    late = monitor.feed(utt("by the way this call is being recorded", 41.0))
    assert [f.outcome for f in late] == ["late"]


def test_not_said_fires_on_an_utterance_past_the_deadline(ruleset: RuleSet) -> None:
    monitor = CallMonitor([ruleset.rule("disclosure.recording")])
    monitor.feed(CallStarted("c1"))
    fired = monitor.feed(utt("so what can I do for you today", 40.0, speaker=Speaker.CUSTOMER))
    assert [(f.outcome, f.start) for f in fired] == [("not_said", 30.0)]
    assert "best candidate" in fired[0].reason or "no candidate" in fired[0].reason


def test_not_said_at_call_end_before_the_deadline(ruleset: RuleSet) -> None:
    monitor = CallMonitor([ruleset.rule("disclosure.recording")])
    monitor.feed(CallStarted("c1"))
    monitor.feed(utt("this call is about your recording studio booking", 1.0))
    fired = monitor.feed(CallEnded("c1", 12.0))
    assert [(f.outcome, f.start) for f in fired] == [("not_said", 12.0)]
    assert "ended at 12.0 s" in fired[0].reason
    assert fired[0].matched_phrase and 0.5 <= fired[0].similarity < 0.85


def test_partial_then_final_fires_once(ruleset: RuleSet) -> None:
    monitor = CallMonitor([ruleset.rule("conduct.threats"), ruleset.rule("disclosure.recording")])
    monitor.feed(CallStarted("c1"))
    # a partial fires once enough words follow the match (words that could still veto it: "… if anyone says")
    said = "this call may be recorded and you will be arrested if you do not pay it by friday"
    first = monitor.feed(utt(said, 1.0, final=False))
    again = monitor.feed(utt(f"{said} today", 1.0))
    assert sorted(f.outcome for f in first) == ["forbidden_said", "said"]
    assert again == []
    assert [f.outcome for f in monitor.feed(utt("you will be arrested", 9.0, index=1))] == ["forbidden_said"]


def test_report_is_final_only_after_call_ended(ruleset: RuleSet) -> None:
    monitor = CallMonitor(ruleset)
    for event in transcript_events("c9", ["agent: this call may be recorded. how can I help?"]):
        monitor.feed(event)
    report = monitor.report()
    assert report["final"] is True and report["call_id"] == "c9"
    monitor2 = CallMonitor(ruleset)
    monitor2.feed(CallStarted("c10"))
    assert monitor2.report()["final"] is False and monitor2.report()["passed"] is False


def test_language_selects_phrase_lists(ruleset: RuleSet) -> None:
    spec = ruleset.rule("disclosure.recording")
    events = transcript_events("c", ["agent: questa chiamata viene registrata"], "it-IT")
    monitor = CallMonitor([spec])
    assert [f.outcome for e in events for f in monitor.feed(e)] == ["said"]
    german = CallMonitor([spec])
    assert [f for e in transcript_events("c", ["agent: hallo"], "de") for f in german.feed(e)] == []
    assert german.outcomes()[0].passed is None


def test_empty_and_wordless_utterances_are_harmless(ruleset: RuleSet) -> None:
    monitor = CallMonitor(ruleset)
    monitor.feed(CallStarted("c1"))
    monitor.feed(Utterance("c1", Speaker.AGENT, 0, 0, "", (), 1.0, 1.0, True))
    said = monitor.feed(Utterance("c1", Speaker.AGENT, 0, 1, "this call is recorded", (), 2.0, 4.0, True))
    assert [f.outcome for f in said] == ["said"]
    assert 2.0 <= said[0].start < said[0].end <= 4.0


def test_evidence_and_reasons_never_carry_a_card_number(ruleset: RuleSet) -> None:
    monitor = CallMonitor([ruleset.rule("gdpr.erasure-request"), ruleset.rule("disclosure.recording")])
    monitor.feed(CallStarted("c1"))
    spoken = "four one one one one one one one one one one one one one one one"
    findings = monitor.feed(
        utt(f"delete my data my card is {spoken} and 4111111111111111", 1.0, speaker=Speaker.CUSTOMER)
    )
    findings += monitor.feed(CallEnded("c1", 40.0))
    assert [f.outcome for f in findings] == ["erasure_requested", "not_said"]
    for finding in findings:
        text = f"{finding.evidence} {finding.reason} {finding.details}"
        assert "4111111111111111" not in text and spoken not in text
