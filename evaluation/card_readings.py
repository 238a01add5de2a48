"""Card readings by real voices: short calls in which an FSDD speaker reads a test card after the agent asks for it.

Each call goes through the live path (CallStream, both passes, the rules); the result says per reading what each
pass heard (digit edit distance to the truth — never the digits) and what the rules raised, and which pass decided.
The FSDD material is split by recording index: `DEV_TAKES` (0-2) is what the digit pass was tuned on, `TEST_TAKES`
(3-4) is held out (tests/streams/test_card_readings.py asserts floors on it; BENCHMARKS.md has the figures).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.analyze import offline_config
from evaluation.corpus import DEFAULT_FSDD, VOICES
from evaluation.degrade import Noise, add_noise, g711_round_trip
from evaluation.diagnosis import pass_distances
from evaluation.synth import FSDD_SPEAKERS, Turn, render_call
from rules.engine import CallMonitor
from rules.events import Event, Speaker
from rules.packs import RuleSet
from streams.audiofile import EncodedAudio
from streams.codecs import AudioFormat, Encoding
from streams.offline import run_audio
from streams.pipeline import PipelineConfig, Transcription

DEV_TAKES = (0, 1, 2)
TEST_TAKES = (3, 4)
CARDS = ("4111111111111111", "5555555555554444", "6011111111111117", "5105105105105100")
"""Luhn-valid test cards (shared/data/text/test-pans.tsv), 16 digits each."""
PAN_RULE = "pci.pan-spoken"


@dataclass(frozen=True, slots=True)
class ReadingCall:
    """One short call: the agent asks for the card, `speaker` reads `card` (FSDD recordings from `takes`)."""

    name: str
    speaker: str
    card: str
    takes: tuple[int, ...]
    audio: EncodedAudio
    reading_start: float
    reading_end: float


@dataclass(frozen=True, slots=True)
class ReadingResult:
    """What the call's reading produced: per-pass digit edit distances (None: that pass heard no digit there),
    whether pan_detected / any pci alert came, and which pass decided the pan_detected ("" when none)."""

    name: str
    speaker: str
    first_distance: int
    digit_distance: int | None
    pan_detected: bool
    any_alert: bool
    decided_by: str


NOISES: tuple[tuple[Noise | None, float], ...] = ((None, 0.0), (Noise.WHITE, 20.0), (Noise.PINK, 15.0),
                                                  (Noise.WHITE, 30.0))
"""Line conditions by card position, as in the generated corpus: clean, white 20 dB, pink 15 dB, white 30 dB."""


def build_calls(
    speakers: Sequence[str] = FSDD_SPEAKERS,
    cards: Sequence[str] = CARDS,
    takes: tuple[int, ...] = TEST_TAKES,
    fsdd: Path = DEFAULT_FSDD,
) -> list[ReadingCall]:
    """One call per (speaker, card), the payment part of a corpus call: the customer asks to pay by card, the agent
    asks for the number, an FSDD voice reads it, thanks and goodbye; espeak voices, 8 kHz stereo, line noise by
    card position (`NOISES`), then a mu-law round trip."""
    calls = []
    for speaker in speakers:
        for number, card in enumerate(cards):
            turns = (
                Turn(Speaker.CUSTOMER, "i would like to pay my bill with a card.", speed=140),
                Turn(Speaker.AGENT, "sure. please read me the long card number.", speed=130),
                Turn(Speaker.CUSTOMER, "it is", speed=140, digits=card, digit_voice=speaker,
                     digit_takes=takes[number % len(takes):] + takes[: number % len(takes)]),
                Turn(Speaker.AGENT, "thank you. your payment is complete.", speed=130),
                Turn(Speaker.CUSTOMER, "great, thanks. goodbye.", speed=140),
            )
            call = render_call(turns, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=VOICES, fsdd_dir=fsdd)
            noise, snr = NOISES[number % len(NOISES)]
            rng = np.random.default_rng(number)
            noisy = call.audio if noise is None else add_noise(call.audio, noise, snr, rng)
            pcm = g711_round_trip(noisy, 8000)
            audio = EncodedAudio(AudioFormat(Encoding.S16LE, 8000, 2), pcm.astype("<i2").tobytes())
            label = call.labels[2]
            calls.append(ReadingCall(f"{speaker}-{number}", speaker, card, takes, audio, label.start, label.end))
    return calls


def judge(call: ReadingCall, events: Sequence[Event], ruleset: RuleSet) -> ReadingResult:
    """Feed the call's events to the rules and compare both passes' digits with the card."""
    monitor = CallMonitor(ruleset, call_id=call.name)
    findings = [f for e in events for f in monitor.feed(e)]
    first, digit = pass_distances(call.card, "customer", call.reading_start, call.reading_end, events)
    pans = [f for f in findings if f.rule_id == PAN_RULE and f.outcome == "pan_detected"]
    alerts = [f for f in findings if f.rule_id.startswith("pci.") and f.outcome != "no_sensitive_numbers"]
    decided = str(pans[0].details.get("pass", "first")) if pans else ""
    return ReadingResult(call.name, call.speaker, first, digit, bool(pans), bool(alerts), decided)


def run_calls(calls: Sequence[ReadingCall], ruleset: RuleSet, config: PipelineConfig | None = None,
              ) -> tuple[list[ReadingResult], float]:
    """Run the calls one after another on one loaded model; the results and the wall seconds taken."""

    async def main() -> list[ReadingResult]:
        results = []
        async with Transcription(config or offline_config()) as asr:
            for call in calls:
                events: list[Event] = []
                await run_audio(asr, call.audio, events.append, call.name, 0)
                results.append(judge(call, events, ruleset))
        return results

    began = time.perf_counter()
    results = asyncio.run(main())
    return results, time.perf_counter() - began


def per_speaker(results: Sequence[ReadingResult]) -> dict[str, tuple[int, int, int]]:
    """speaker → (readings, pan_detected, any pci alert)."""
    table: dict[str, tuple[int, int, int]] = {}
    for r in results:
        n, pan, alert = table.get(r.speaker, (0, 0, 0))
        table[r.speaker] = (n + 1, pan + r.pan_detected, alert + r.any_alert)
    return table
