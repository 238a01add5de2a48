"""Consent on real ASR text: garbled question tails in a recording context, answers that arrive before the question."""

from __future__ import annotations

from rules.engine import CallMonitor
from rules.events import AudioTick, CallEnded, CallStarted, Event, Speaker, Utterance, Word
from rules.packs import load_packs

CONSENT = load_packs().rule("consent.recording")


def _final(speaker: Speaker, index: int, text: str, start: float) -> Utterance:
    words = tuple(Word(w, start + i * 0.35, start + (i + 1) * 0.35) for i, w in enumerate(text.split()))
    channel = 0 if speaker is Speaker.AGENT else 1
    return Utterance("c", speaker, channel, index, text, words, start, words[-1].end, True)


def _outcomes(events: list[Event]) -> list[str]:
    monitor = CallMonitor([CONSENT], call_id="c")
    return [f.outcome for e in events for f in monitor.feed(e)]


def test_answer_transcribed_before_the_question_still_answers_it() -> None:
    question = _final(Speaker.AGENT, 0, "sure this call may be recorded that's okay with you", 1.0)
    answer = _final(Speaker.CUSTOMER, 0, "yeah go ahead", question.end + 0.4)
    events: list[Event] = [CallStarted("c"), answer, question, AudioTick("c", 30.0), CallEnded("c", 31.0)]
    assert _outcomes(events) == ["consent_given"]


def test_answer_before_the_question_started_is_not_its_answer() -> None:
    early = _final(Speaker.CUSTOMER, 0, "no", 0.2)
    question = _final(Speaker.AGENT, 0, "this call may be recorded is that okay with you", 1.0)
    events: list[Event] = [CallStarted("c"), early, question, CallEnded("c", 20.0)]
    assert _outcomes(events) == ["consent_unclear"]


def test_garbled_tail_needs_a_recording_context() -> None:
    with_context: list[Event] = [
        CallStarted("c"),
        _final(Speaker.AGENT, 0, "this call may be recorded for training", 0.5),
        _final(Speaker.AGENT, 1, "in map okay will you", 4.0),
        _final(Speaker.CUSTOMER, 0, "yes go ahead", 6.0),
        CallEnded("c", 20.0),
    ]
    assert _outcomes(with_context) == ["consent_given"]
    without: list[Event] = [
        CallStarted("c"),
        _final(Speaker.AGENT, 0, "we will post the card to your home is that okay with you", 0.5),
        _final(Speaker.CUSTOMER, 0, "yes go ahead", 6.0),
        CallEnded("c", 20.0),
    ]
    assert _outcomes(without) == []


def test_recording_context_expires() -> None:
    events: list[Event] = [
        CallStarted("c"),
        _final(Speaker.AGENT, 0, "this call may be recorded for training", 0.5),
        _final(Speaker.AGENT, 1, "we will post the new card is that okay with you", 60.0),
        _final(Speaker.CUSTOMER, 0, "yes", 65.0),
        CallEnded("c", 80.0),
    ]
    assert _outcomes(events) == []
