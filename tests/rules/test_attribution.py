"""Speaker attribution of single-channel legs (rules/attribution.py) and how rules and the engine use it."""

from __future__ import annotations

from rules.attribution import MAX_SEGMENTS, SpeakerAttributor, confidence_of
from rules.engine import CallMonitor
from rules.events import CallEnded, CallStarted, DigitReading, Speaker, Utterance, Word
from rules.packs import load_packs

A, C = Speaker.AGENT, Speaker.CUSTOMER


def words_of(*turns: tuple[str, float], pace: float = 0.3) -> tuple[Word, ...]:
    """Timed words: each turn's text starts at its given time, one word every `pace` seconds."""
    out: list[Word] = []
    for text, at in turns:
        for i, token in enumerate(text.split()):
            out.append(Word(token, round(at + i * pace, 3), round(at + i * pace + pace * 0.8, 3)))
    return tuple(out)


def final(index: int, *turns: tuple[str, float]) -> Utterance:
    words = words_of(*turns)
    text = " ".join(w.text for w in words)
    return Utterance("c", Speaker.UNKNOWN, 0, index, text, words, words[0].start, words[-1].end, True)


def attribute_call(*finals: Utterance) -> list[Utterance]:
    attributor = SpeakerAttributor()
    out: list[Utterance] = []
    for utterance in finals:
        out.extend(attributor.attribute(utterance))
    return out


def turns(utterances: list[Utterance]) -> list[tuple[Speaker, str]]:
    return [(u.speaker, u.text) for u in utterances if u.text]


def test_one_final_holding_both_sides_is_cut_at_the_pause_and_each_side_named() -> None:
    # a mixed stream's recognizer ran the agent's question and the customer's answer into one final
    out = attribute_call(
        final(0, ("thank you for calling acme bank how can i help you today", 0.0)),
        final(1, ("i would like to pay my bill with a card", 5.0)),
        final(2, ("sure please read me the long card number", 9.0), ("four one one one one one one one", 12.6)),
    )
    assert turns(out) == [
        (A, "thank you for calling acme bank how can i help you today"),
        (C, "i would like to pay my bill with a card"),
        (A, "sure please read me the long card number"),
        (C, "four one one one one one one one"),
    ]
    assert all(u.final and u.attribution_confidence is not None for u in out)
    assert [u.index for u in out] == [0, MAX_SEGMENTS, 2 * MAX_SEGMENTS, 2 * MAX_SEGMENTS + 1]


def test_a_call_where_the_customer_speaks_first() -> None:
    # an outbound-style opening: the customer answers the phone, the agent introduces the call
    out = attribute_call(
        final(0, ("hello", 0.0)),
        final(1, ("good morning this is sam from acme bank this call is recorded for quality", 1.5)),
        final(2, ("okay", 7.0)),
        final(3, ("i have a question about my bill", 8.5)),
    )
    assert turns(out) == [
        (C, "hello"),
        (A, "good morning this is sam from acme bank this call is recorded for quality"),
        (C, "okay"),
        (C, "i have a question about my bill"),
    ]
    # the opening "hello" has only the opener prior against it, after which turn-taking and cues decide
    assert out[1].attribution_confidence is not None and out[1].attribution_confidence > 0.9


def test_cues_on_one_side_only_turn_taking_names_the_other() -> None:
    # only the agent's lines carry cues; the customer's plain lines are named by alternation after a long pause
    out = attribute_call(
        final(0, ("thank you for calling how can i help", 0.0)),
        final(1, ("the heating stopped working yesterday", 3.5)),
        final(2, ("let me check that for you one moment", 7.0)),
        final(3, ("it makes a clicking noise", 10.5)),
    )
    assert [s for s, _ in turns(out)] == [A, C, A, C]
    plain = [u.attribution_confidence for u in out if u.speaker is C]
    cued = [u.attribution_confidence for u in out if u.speaker is A]
    assert max(p or 0 for p in plain) < min(c or 0 for c in cued)  # the cue-less side is less sure


def test_a_short_pause_continues_the_speaker_a_long_one_alternates() -> None:
    out = attribute_call(
        final(0, ("good morning", 0.0), ("we had a storm here", 0.75)),  # 0.35 s pause: still one side
        final(1, ("that sounds difficult", 3.0)),
    )
    assert [s for s, _ in turns(out)] == [A, C]
    assert turns(out)[0][1] == "good morning we had a storm here"


def test_consent_answer_after_the_agents_question_is_the_customers() -> None:
    out = attribute_call(
        final(0, ("this call may be recorded for quality and training purposes is that okay with you", 0.0),
              ("yes go ahead", 7.5)),
    )
    assert turns(out) == [
        (A, "this call may be recorded for quality and training purposes is that okay with you"),
        (C, "yes go ahead"),
    ]


def test_refusal_is_the_customers_even_with_recording_words() -> None:
    out = attribute_call(
        final(0, ("your call may be monitored or recorded do you agree to being recorded", 0.0)),
        final(1, ("no please do not record this call", 6.0)),
        final(2, ("understood i will stop the recording", 9.0)),
    )
    assert [s for s, _ in turns(out)] == [A, C, A]


def test_partials_get_one_speaker_and_are_closed_by_a_final_of_their_own() -> None:
    attributor = SpeakerAttributor()
    p1 = Utterance("c", Speaker.UNKNOWN, 0, 0, "thank you", (), 1.0, 1.0, False)
    p2 = Utterance("c", Speaker.UNKNOWN, 0, 0, "thank you for calling i would", (), 2.0, 2.0, False)
    partials = attributor.attribute(p1) + attributor.attribute(p2)
    assert {u.speaker for u in partials} == {A} and {u.index for u in partials} == {0}
    out = attributor.attribute(final(0, ("thank you for calling how can i help", 0.0), ("i would like", 3.5)))
    # the first turn is the partials' side: it is their final (same index), no empty line
    assert [(u.speaker, u.index, u.final) for u in out] == [(A, 0, True), (C, 1, True)]
    assert turns(out) == [(A, "thank you for calling how can i help"), (C, "i would like")]
    # partials guessed for one side whose final is the other's are closed by an empty final of their own
    p3 = Utterance("c", Speaker.UNKNOWN, 0, 1, "thank you", (), 6.0, 6.0, False)
    assert attributor.attribute(p3)[0].speaker is A  # no cue: the side that did not speak last (a new turn)
    out = attributor.attribute(final(1, ("i would like my card", 5.0)))
    assert [(u.speaker, u.index, u.text) for u in out] == [
        (C, MAX_SEGMENTS + 1, "i would like my card"),
        (A, MAX_SEGMENTS, ""),  # the partials' own final comes after the turn, empty
    ]


def test_a_wrong_partial_guess_does_not_end_the_consent_window_before_the_answer() -> None:
    # the answer's partials were guessed as the agent's ("sir"); their empty closing final must not reach the
    # consent rule before the customer's answer itself (it closed the window with no answer: consent_unclear)
    attributor = SpeakerAttributor()
    events = [
        *attributor.attribute(final(0, ("thank you for calling acme bank", 0.0))),
        *attributor.attribute(final(1, ("good morning", 2.5))),
        *attributor.attribute(final(2, ("this call may be recorded for quality and training purposes", 4.0),
                                    ("is that okay with you", 7.5))),
        *attributor.attribute(Utterance("c", Speaker.UNKNOWN, 0, 3, "yes sir", (), 10.0, 10.0, False)),
        *attributor.attribute(Utterance("c", Speaker.UNKNOWN, 0, 3, "yes sir go", (), 10.3, 10.3, False)),
        *attributor.attribute(final(3, ("yes sir go ahead", 9.8))),
    ]
    assert [u.speaker for u in events if u.index == 3 * MAX_SEGMENTS] == [A, A, A]  # "sir": guessed the agent's
    assert [u.speaker for u in events if u.index == 3 * MAX_SEGMENTS + 1] == [C]
    outcomes = [f.outcome for f in _monitor_findings(events, 40.0).findings if f.rule_id == "consent.recording"]
    assert outcomes == ["consent_given"]


def test_digit_readings_go_to_the_side_reading_digits() -> None:
    attributor = SpeakerAttributor()
    attributor.attribute(final(0, ("of course what is the card number", 0.0)))
    reading = DigitReading("c", Speaker.UNKNOWN, 0, 0, (Word("four", 3.0, 3.3),), 3.0, 3.3, False)
    assert attributor.attribute_reading(reading).speaker is C  # after the agent's card prompt
    attributor.attribute(final(1, ("four one one one", 3.0), ("let me read that back four one one one", 6.0)))
    assert attributor.attribute_reading(reading).speaker is A  # the agent read digits last


def test_confidence_grows_with_the_margin() -> None:
    assert confidence_of(0.0, 2.0) == 0.5
    assert 0.5 < confidence_of(1.0, 2.0) < confidence_of(3.0, 2.0) < confidence_of(8.0, 2.0) <= 1.0


def _monitor_findings(utterances: list[Utterance], end: float) -> CallMonitor:
    monitor = CallMonitor(load_packs([]), call_id="c")
    monitor.feed(CallStarted("c"))
    for utterance in utterances:
        monitor.feed(utterance)
    monitor.feed(CallEnded("c", end))
    return monitor


def test_findings_carry_the_attribution_confidence_of_their_turn() -> None:
    out = attribute_call(
        final(0, ("thank you for calling acme bank this call may be recorded for quality and training purposes "
                  "is that okay with you", 0.0)),
        final(1, ("yes go ahead", 8.0)),
    )
    monitor = _monitor_findings(out, 40.0)
    said = [f for f in monitor.findings if f.rule_id == "disclosure.recording"]
    consent = [f for f in monitor.findings if f.rule_id == "consent.recording"]
    assert [f.outcome for f in said] == ["said"] and [f.outcome for f in consent] == ["consent_given"]
    assert said[0].attribution_confidence == out[0].attribution_confidence
    assert consent[0].attribution_confidence is not None and consent[0].attribution_confidence > 0.5
    assert said[0].to_json()["attribution_confidence"] == said[0].attribution_confidence
    # a stereo call's findings are unchanged: no attribution key at all
    stereo = [u.__class__(u.call_id, u.speaker, 0 if u.speaker is A else 1, u.index, u.text, u.words, u.start,
                          u.end, u.final) for u in out]
    assert all("attribution_confidence" not in f.to_json() for f in _monitor_findings(stereo, 40.0).findings)


def test_a_disclosure_in_a_low_confidence_customer_turn_still_counts_with_a_note() -> None:
    words = words_of(("this call is recorded for quality purposes", 2.0))
    doubtful = Utterance("c", C, 0, 1, " ".join(w.text for w in words), words, 2.0, words[-1].end, True, 0.6)
    monitor = _monitor_findings([doubtful], 40.0)
    said = [f for f in monitor.findings if f.rule_id == "disclosure.recording"]
    assert [f.outcome for f in said] == ["said"]
    assert "attribution_note" in said[0].details and "confidence 0.60" in said[0].reason
    assert said[0].attribution_confidence == 0.6
    # the same words in a confidently attributed customer turn are the customer's, not the agent's notice
    sure = Utterance("c", C, 0, 1, doubtful.text, words, 2.0, words[-1].end, True, 0.95)
    outcomes = [f.outcome for f in _monitor_findings([sure], 40.0).findings if f.rule_id == "disclosure.recording"]
    assert outcomes == ["not_said"]


def test_a_card_read_in_groups_stays_with_its_reader_and_a_read_back_with_the_agent() -> None:
    out = attribute_call(
        final(0, ("of course what is the card number", 0.0)),
        # the customer reads in groups of four, 0.4 s apart (pauses long enough to cut at)
        final(
            1, ("four one one one", 3.0), ("one one one one", 4.5), ("one one one one", 6.0), ("one one one one", 7.5)
        ),
        final(2, ("let me read that back", 10.0), ("four one one one", 11.9), ("one one one one", 13.4)),
    )
    assert [(s, t.split()[0]) for s, t in turns(out)] == [(A, "of"), (C, "four"), (A, "let")]
    assert turns(out)[1][1].count("one") == 15 and turns(out)[2][1].endswith("four one one one one one one one")


def test_digits_without_a_prompt_lean_to_the_customer() -> None:
    out = attribute_call(
        final(0, ("good morning acme bank", 0.0)), final(1, ("five five five one two three four", 3.0))
    )
    assert turns(out)[1][0] is C


def test_a_final_without_word_times_is_one_turn_and_an_empty_one_closes_its_partials() -> None:
    attributor = SpeakerAttributor()
    wordless = Utterance("c", Speaker.UNKNOWN, 0, 0, "thank you for calling", (), 0.0, 2.0, True)
    assert [(u.speaker, u.text, u.index) for u in attributor.attribute(wordless)] == [
        (A, "thank you for calling", 0)
    ]
    attributor.attribute(Utterance("c", Speaker.UNKNOWN, 0, 1, "i would like", (), 3.0, 3.0, False))
    empty = attributor.attribute(Utterance("c", Speaker.UNKNOWN, 0, 1, "", (), 3.5, 3.5, True))
    assert [(u.speaker, u.text, u.index, u.final) for u in empty] == [(C, "", MAX_SEGMENTS, True)]
