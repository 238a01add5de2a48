"""Genesys transcription connector: a call's redacted utterances become AudioHook `transcript` entities.

What leaves here is what left the call's one redaction step (monitor/call/redaction.py): the redacted line and
its redacted timed words, never the recognizer's raw text. A final utterance is cut into phrases at pauses of at
least `PHRASE_GAP` seconds between words (Vosk closes an utterance only after 0.4 s of silence; AudioHook
consumers show a transcript per phrase, as Genesys' own engine and the conformance suite segment it). Partials
(when asked for) carry the hypothesis so far, no word times and no confidence estimate (Vosk gives none).
"""

from __future__ import annotations

import uuid

from monitor.call.redaction import RedactedLine, RedactedWord
from rules.events import Utterance
from streams.protocols.audiohook_messages import NULL_UUID, Transcript, TranscriptToken

PHRASE_GAP = 0.3  # seconds of silence between two words that end a phrase
PARTIAL_CONFIDENCE = 0.0  # Vosk does not estimate a partial hypothesis' confidence


def utterance_id(session_id: str, channel: int, index: int, phrase: int) -> str:
    """A stable UUID for phrase `phrase` of utterance `index` on `channel` of an AudioHook session."""
    try:
        namespace = uuid.UUID(session_id)
    except ValueError:
        namespace = uuid.UUID(NULL_UUID)
    return str(uuid.uuid5(namespace, f"{channel}/{index}/{phrase}"))


def phrases(words: tuple[RedactedWord, ...], gap: float = PHRASE_GAP) -> list[tuple[RedactedWord, ...]]:
    """`words` cut wherever the silence between two words lasts at least `gap` seconds."""
    out: list[list[RedactedWord]] = []
    for word in words:
        if out and word.start - out[-1][-1].end < gap - 1e-6:  # times are rounded to the millisecond
            out[-1].append(word)
        else:
            out.append([word])
    return [tuple(phrase) for phrase in out]


def transcripts(session_id: str, utterance: Utterance, line: RedactedLine, language: str) -> list[Transcript]:
    """The AudioHook transcripts of one redacted utterance: a partial's hypothesis, or a final's phrases."""
    if not line.text:
        return []
    if not utterance.final:
        return [
            Transcript(
                utterance_id(session_id, utterance.channel, utterance.index, 0), utterance.channel, False, None,
                None, PARTIAL_CONFIDENCE, line.text, (), language,
            )
        ]  # fmt: skip
    if not line.words:  # no word times (the recognizer gave none): one transcript spanning the utterance
        duration = max(0.0, round(utterance.end - utterance.start, 3))
        confidence = 1.0
        return [
            Transcript(
                utterance_id(session_id, utterance.channel, utterance.index, 0), utterance.channel, True,
                max(0.0, utterance.start), duration, confidence, line.text, (), language,
            )
        ]  # fmt: skip
    out = []
    for number, phrase in enumerate(phrases(line.words)):
        start, end = phrase[0].start, phrase[-1].end
        tokens = tuple(
            TranscriptToken(word.text, word.confidence, word.start, _span(word.start, word.end)) for word in phrase
        )
        out.append(
            Transcript(
                utterance_id(session_id, utterance.channel, utterance.index, number), utterance.channel, True,
                max(0.0, start), _span(start, end), sum(w.confidence for w in phrase) / len(phrase),
                " ".join(word.text for word in phrase), tokens, language,
            )
        )  # fmt: skip
    return out


def _span(start: float, end: float) -> float:
    return max(0.0, round(end - start, 3))
