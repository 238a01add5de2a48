"""Realistic-mix workload for bench/engine.py: the synthesized corpus's scripted calls as Vosk streams them.

Each call is one of the corpus scenarios (evaluation/corpus.py: 18 calls, 164 turns, 13 of them reading digits, so
~8 % of utterances hold a number). The turns are streamed the way streams/transcriber.py emits Vosk results:
a partial every 0.3 s of audio when its text changed (no words, start = end = the leg's position; the text grows
at the speaking rate of the corpus voices, ~2.3 words/s), then a final with timed words; AudioTicks every second.
Digits read from the FSDD recordings appear as number words. ASR errors are simulated by substituting ~8 % of
words with other corpus words (seeded; never number words), so text caches see realistic misses instead of exact
script repeats.
"""

from __future__ import annotations

import math
import random
import re

from evaluation.corpus import scenarios
from rules.events import AudioTick, CallEnded, CallStarted, Event, Speaker, Utterance, Word

WORDS_PER_SECOND = 2.3
PARTIAL_EVERY = 0.3
SUBSTITUTION_RATE = 0.08
GAP_SECONDS = 0.5
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def corpus_turns() -> list[list[tuple[Speaker, list[str]]]]:
    """Per corpus scenario, its turns as (speaker, words as the recognizer writes them: lowercase, no marks)."""
    calls = []
    for scenario in scenarios():
        turns = []
        for turn in scenario.turns:
            words = re.findall(r"[a-z0-9']+", turn.text.lower()) + [DIGIT_WORDS[int(d)] for d in turn.digits]
            if words:
                turns.append((turn.speaker, words))
        calls.append(turns)
    return calls


def _misheard(rng: random.Random, words: list[str], vocabulary: list[str]) -> list[str]:
    return [rng.choice(vocabulary) if rng.random() < SUBSTITUTION_RATE else w for w in words]


def _turn_events(call_id: str, speaker: Speaker, index: int, words: list[str], start: float) -> list[Utterance]:
    channel = 0 if speaker is Speaker.AGENT else 1
    step = 1.0 / WORDS_PER_SECOND
    timed = tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(words))
    end = timed[-1].end
    out: list[Utterance] = []
    previous = ""
    position = start + PARTIAL_EVERY
    while position < end:
        text = " ".join(words[: math.floor((position - start) * WORDS_PER_SECOND)])
        if text and text != previous:
            out.append(Utterance(call_id, speaker, channel, index, text, (), position, position, False))
            previous = text
        position += PARTIAL_EVERY
    out.append(Utterance(call_id, speaker, channel, index, " ".join(words), timed, start, end, True))
    return out


def realistic_call(
    rng: random.Random, call_id: str, turns: list[tuple[Speaker, list[str]]], vocabulary: list[str]
) -> list[Event]:
    """One corpus call streamed as partials + finals + ticks, with simulated recognition errors."""
    clock = 0.0
    indexes = {Speaker.AGENT: 0, Speaker.CUSTOMER: 0}
    utterances: list[Utterance] = []
    for speaker, words in turns:
        events = _turn_events(call_id, speaker, indexes[speaker], _misheard(rng, words, vocabulary), clock)
        indexes[speaker] += 1
        utterances += events
        clock = events[-1].end + GAP_SECONDS
    out: list[Event] = [CallStarted(call_id, 0.0, "en")]
    next_tick = 1.0
    for utterance in sorted(utterances, key=lambda u: u.end):
        while next_tick < utterance.end:
            out.append(AudioTick(call_id, next_tick))
            next_tick += 1.0
        out.append(utterance)
    out.append(CallEnded(call_id, clock + 1.0))
    return out


def realistic_calls(count: int, seed: int = 7) -> list[list[Event]]:
    """`count` calls cycling through the corpus scenarios (each with its own recognition errors)."""
    rng = random.Random(seed)
    corpus = corpus_turns()
    vocabulary = sorted({w for turns in corpus for _, words in turns for w in words if w not in DIGIT_WORDS})
    return [realistic_call(rng, f"mix-{i}", corpus[i % len(corpus)], vocabulary) for i in range(count)]
