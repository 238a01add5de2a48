"""Generated development corpus: varied voices, speeds, noise and G.711 over the scripted call kinds, exactly labelled.

Call i of seed S is a pure function of (S, i): its kind (corpus_scripts.KIND_CYCLE), voices, speeds, wording,
numbers, FSDD digit speaker, noise and codec all come from generators seeded with (S, i). Output: NAME.wav +
NAME.json (labels, docs/corpus.md) per call, readable by `callwarden eval`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.corpus import DEFAULT_FSDD
from evaluation.corpus_labels import CallLabels, ExpectedFinding
from evaluation.corpus_scripts import (
    BUILDERS,
    DISCLOSURE_WINDOW_SECONDS,
    KIND_CYCLE,
    Cast,
    Script,
    load_test_cards,
)
from evaluation.degrade import Noise, add_noise, g711_round_trip
from evaluation.synth import FSDD_SPEAKERS, SynthCall, SynthError, render_call, spoken_digits, write_wav

DEFAULT_TEST_PANS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "text" / "test-pans.tsv"
VOICES = ("en-us+f3", "en-us+klatt4", "en-us+m3", "en-gb+klatt4", "en-us+f2")
SPEEDS = (120, 160)
DEFAULT_SNRS = (0.0, 30.0, 20.0, 15.0)
"""Noise levels drawn per call, as SNR in dB; 0 means clean (no noise added)."""
RATE = 8000


@dataclass(frozen=True, slots=True)
class GeneratorOptions:
    """What varies across generated calls and where the real material comes from."""

    snrs: tuple[float, ...] = DEFAULT_SNRS
    mulaw: bool = True
    voices: tuple[str, ...] = VOICES
    digit_speakers: tuple[str, ...] = FSDD_SPEAKERS
    fsdd_dir: Path = DEFAULT_FSDD
    test_pans: Path = DEFAULT_TEST_PANS

    def __post_init__(self) -> None:
        if not self.snrs or any(s < 0 for s in self.snrs):
            raise ValueError(f"SNRs must be dB >= 0 (0 = clean), got {self.snrs!r}")
        if len(self.voices) < 2:
            raise ValueError(f"need at least two espeak-ng voices (agent and customer), got {self.voices!r}")
        unknown = set(self.digit_speakers) - set(FSDD_SPEAKERS)
        if not self.digit_speakers or unknown:
            raise ValueError(f"digit speakers must be FSDD speakers {FSDD_SPEAKERS}, got {self.digit_speakers!r}")


@dataclass(frozen=True, slots=True)
class Conditions:
    """How one call sounds; stored in its labels under `conditions`."""

    cast: Cast
    noise: Noise
    snr_db: float | None
    codec: str
    gap: float

    def to_json(self) -> dict[str, Any]:
        c = self.cast
        return {
            "agent_voice": c.agent_voice,
            "agent_speed": c.agent_speed,
            "customer_voice": c.customer_voice,
            "customer_speed": c.customer_speed,
            "digit_speaker": c.digit_speaker,
            "agent_digit_speaker": c.agent_digit_speaker,
            "noise": str(self.noise),
            "snr_db": self.snr_db,
            "codec": self.codec,
            "gap_seconds": round(self.gap, 3),
        }


def kind_occurrence(index: int) -> int:
    """How many earlier calls share call `index`'s kind (so FSDD speakers rotate within each kind)."""
    position = index % len(KIND_CYCLE)
    kind = KIND_CYCLE[position]
    return (index // len(KIND_CYCLE)) * KIND_CYCLE.count(kind) + KIND_CYCLE[:position].count(kind)


def draw_conditions(rng: random.Random, index: int, options: GeneratorOptions) -> Conditions:
    """The voices, speeds, noise and codec of call `index` (FSDD speakers rotate per kind, so every speaker reads
    every kind about equally often)."""
    agent_voice, customer_voice = rng.sample(options.voices, 2)
    speakers = options.digit_speakers
    turn = kind_occurrence(index) + KIND_CYCLE.index(KIND_CYCLE[index % len(KIND_CYCLE)])
    digit_speaker = speakers[turn % len(speakers)]
    agent_digits = speakers[(turn + 1) % len(speakers)] if len(speakers) > 1 else digit_speaker
    cast = Cast(agent_voice, rng.randint(*SPEEDS), customer_voice, rng.randint(*SPEEDS), digit_speaker, agent_digits)
    snr = rng.choice(options.snrs)
    noise = Noise.CLEAN if snr == 0 else rng.choice((Noise.WHITE, Noise.PINK))
    return Conditions(
        cast, noise, None if noise is Noise.CLEAN else snr, "mulaw" if options.mulaw else "pcm16", rng.uniform(0.4, 0.8)
    )


def _digits_onset(call: SynthCall, script: Script, turn: int, fsdd: Path) -> float | None:
    """Audio time of the first spoken digit of `turn` (its digits close the turn, see synth.render_call)."""
    spoken = script.turns[turn]
    if not spoken.digits:
        return None
    length = spoken_digits(spoken.digits, fsdd, spoken.digit_voice).size / RATE
    return call.labels[turn].end - length


def call_labels(name: str, script: Script, call: SynthCall, conditions: Conditions, fsdd: Path) -> CallLabels:
    """The labels of `script` rendered as `call`: turn windows, evidence onsets (`at`) and conditions."""
    expected = []
    for e in script.expect:
        label = call.labels[e.turn] if e.turn is not None else None
        at = _digits_onset(call, script, e.turn, fsdd) if e.turn is not None else None
        if e.present and e.outcome == "not_said":  # stamped at the deadline, or at the end of a shorter call
            at = min(DISCLOSURE_WINDOW_SECONDS, call.duration)
        expected.append(
            ExpectedFinding(
                e.rule_id,
                e.outcome,
                e.present,
                e.speaker,
                label.start if label else None,
                label.end if label else None,
                at,
            )
        )
    turns = tuple(
        {"speaker": t.speaker.value, "text": t.text, "start": round(t.start, 3), "end": round(t.end, 3)}
        for t in call.labels
    )
    return CallLabels(
        name,
        script.description,
        f"{name}.wav",
        call.agent_channel,
        call.duration,
        turns,
        tuple(expected),
        (script.kind, *script.tags),
        conditions=conditions.to_json(),
    )


def generate_call(
    index: int, seed: int, options: GeneratorOptions, cards: tuple[str, ...]
) -> tuple[SynthCall, CallLabels]:
    """Render call `index` of corpus `seed`: (degraded audio, labels)."""
    rng = random.Random(f"callwarden-corpus:{seed}:{index}")
    kind = KIND_CYCLE[index % len(KIND_CYCLE)]
    conditions = draw_conditions(rng, index, options)
    script = BUILDERS[kind](conditions.cast, rng, cards)
    fsdd = options.fsdd_dir.resolve()
    clean = render_call(script.turns, rate=RATE, agent_channel=0, gap=conditions.gap, tail=1.0, fsdd_dir=fsdd)
    audio = clean.audio
    if conditions.snr_db is not None:
        audio = add_noise(audio, conditions.noise, conditions.snr_db, np.random.default_rng([seed, index]))
    if options.mulaw:
        audio = g711_round_trip(audio, RATE)
    call = SynthCall(audio, RATE, clean.agent_channel, clean.labels)
    return call, call_labels(f"{index:03d}-{kind}", script, call, conditions, fsdd)


def write_generated_corpus(
    directory: Path, calls: int, seed: int = 0, options: GeneratorOptions | None = None, first: int = 0
) -> list[Path]:
    """Render calls first..first+calls-1 of corpus `seed` into `directory` (NAME.wav + NAME.json); the labels paths."""
    options = options or GeneratorOptions()
    if calls < 1:
        raise ValueError(f"--calls must be at least 1, got {calls}")
    if not (options.fsdd_dir / "0_lucas_0.wav").is_file():
        raise SynthError(f"FSDD recordings not found in {options.fsdd_dir}; pass the shared/data/audio/fsdd directory")
    cards = load_test_cards(options.test_pans)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(first, first + calls):
        call, labels = generate_call(index, seed, options, cards)
        write_wav(directory / labels.audio, call.audio, call.rate)
        path = directory / f"{labels.scenario}.json"
        path.write_text(json.dumps(labels.to_json(), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def describe_corpus(labels: Sequence[CallLabels]) -> dict[str, Any]:
    """Counts per kind, voice, FSDD speaker, noise and codec, and the total audio seconds (for reports)."""
    counts: dict[str, dict[str, int]] = {}
    for label in labels:
        keys = {"kind": label.tags[0] if label.tags else "?"}
        for key, value in label.conditions.items():
            if key.endswith("_speed") and isinstance(value, int):
                keys[key] = f"{value // 10 * 10}-{value // 10 * 10 + 9}"
            elif key != "gap_seconds":
                keys[key] = str(value)
        for key, value in keys.items():
            bucket = counts.setdefault(key, {})
            bucket[value] = bucket.get(value, 0) + 1
    return {"calls": len(labels), "audio_seconds": round(sum(x.duration for x in labels), 1), "counts": counts}
