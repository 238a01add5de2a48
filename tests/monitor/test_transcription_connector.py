"""Transcription connector: a call's redacted utterances as AudioHook transcripts (phrases, tokens, masks)."""

from __future__ import annotations

import uuid

from monitor.call.redaction import CallRedaction
from monitor.web.transcription_connector import PHRASE_GAP, transcripts, utterance_id
from rules.events import Speaker, Utterance, Word

SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0"
ONES = ["one"] * 15


def utterance(words: list[tuple[str, float, float]], index: int = 0, final: bool = True) -> Utterance:
    timed = tuple(Word(text, start, end, 0.9) for text, start, end in words)
    text = " ".join(w.text for w in timed)
    return Utterance("c", Speaker.CUSTOMER, 0, index, text, timed, timed[0].start, timed[-1].end, final)


def spoken_at(text: str, start: float, step: float = 0.3) -> list[tuple[str, float, float]]:
    words = text.split()
    return [(word, round(start + i * step, 3), round(start + i * step + step * 0.9, 3)) for i, word in enumerate(words)]


def test_a_card_number_leaves_as_one_masked_token_spanning_its_digits() -> None:
    redaction = CallRedaction("en")
    card = spoken_at("my card is four " + " ".join(ONES), 1.0)
    event = utterance(card)
    line = redaction.line(event)
    (transcript,) = transcripts(SESSION, event, line, "en-US")
    values = [token.value for token in transcript.tokens]
    assert values == ["my", "card", "is", "[card ••••1111]"] and transcript.text == line.text == " ".join(values)
    masked = transcript.tokens[-1]
    assert masked.offset == card[3][1] and round(masked.offset + masked.duration, 3) == card[-1][2]
    assert "one" not in transcript.text and "four" not in transcript.text


def test_a_security_code_after_the_prompt_is_masked_in_the_tokens_too() -> None:
    redaction = CallRedaction("en")
    prompt_words = spoken_at("and the three digit security code on the back", 0.0)
    prompt = utterance(prompt_words)
    redaction.line(prompt)
    answer = utterance(spoken_at("it is seven three seven", 4.0), index=1)
    (transcript,) = transcripts(SESSION, answer, redaction.line(answer), "en-US")
    assert [token.value for token in transcript.tokens] == ["it", "is", "[number]"]


def test_a_final_is_cut_into_phrases_at_pauses() -> None:
    words = [("hi", 0.09, 0.57), ("thanks", 1.08, 1.38), ("for", 1.38, 1.53), ("calling", 1.53, 2.22),
             ("how", 2.22 + PHRASE_GAP, 2.75), ("can", 2.75, 2.9)]  # fmt: skip
    event = utterance(words, index=4)
    out = transcripts(SESSION, event, CallRedaction("en").line(event), "en-US")
    assert [t.text for t in out] == ["hi", "thanks for calling", "how can"]
    assert [(t.offset, t.duration) for t in out] == [(0.09, 0.48), (1.08, 1.14), (2.52, 0.38)]
    assert len({t.utterance_id for t in out}) == 3
    assert out[0].utterance_id == utterance_id(SESSION, 0, 4, 0) and uuid.UUID(out[0].utterance_id).version == 5


def test_partials_keep_the_first_phrases_id_and_empty_lines_send_nothing() -> None:
    redaction = CallRedaction("en")
    partial = Utterance("c", Speaker.CUSTOMER, 0, 2, "thanks for", (), 1.5, 1.5, False)
    (only,) = transcripts(SESSION, partial, redaction.line(partial), "en-US")
    assert only.final is False and only.offset is None and only.utterance_id == utterance_id(SESSION, 0, 2, 0)
    empty = Utterance("c", Speaker.CUSTOMER, 0, 2, "", (), 1.5, 1.5, True)
    assert transcripts(SESSION, empty, redaction.line(empty), "en-US") == []
