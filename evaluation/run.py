"""Running a labelled corpus through the live path and the rules engine, N calls at a time, and scoring each call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.analyze import OFFLINE_QUEUE_SECONDS, TranscriptLine, analyze_audio
from evaluation.corpus_labels import CallLabels, ExpectedFinding, LabelsError, load_labels
from evaluation.diagnosis import DigitCheck, check_digits, snippet
from evaluation.scoring import CallScore, FoundFinding, RuleScore, rule_scores, score_call
from rules.packs import RuleSet
from streams.audiofile import EncodedAudio, read_audio
from streams.pipeline import PipelineConfig, Transcription
from streams.transcriber import AsrConfig

Progress = Callable[["CallEvaluation", int, int], None]
PAN_RULE = "pci.pan-spoken"


@dataclass(frozen=True, slots=True)
class Miss:
    """A labelled finding that was not found: why (digit check) and what was heard (redacted)."""

    expected: ExpectedFinding
    digits: DigitCheck | None
    transcript: str

    def to_json(self) -> dict[str, Any]:
        return {
            "expected": self.expected.to_json(),
            "describe": self.expected.describe(),
            "digits": self.digits.to_json() if self.digits else None,
            "verdict": self.digits.verdict() if self.digits else "",
            "transcript": self.transcript,
        }


@dataclass(frozen=True, slots=True)
class FalseAlarm:
    """A found finding nobody labelled, with the redacted transcript around it."""

    found: FoundFinding
    transcript: str

    def to_json(self) -> dict[str, Any]:
        return {"found": self.found.to_json(), "transcript": self.transcript}


@dataclass(frozen=True, slots=True)
class CardReading:
    """One labelled card reading (an expected pan_detected): what each pass heard (digit edit distances, in
    `digits`), whether pan_detected and whether any pci alert came within its window, and which pass decided."""

    expected: ExpectedFinding
    digits: DigitCheck | None
    pan_detected: bool
    any_alert: bool
    decided_by: str

    def to_json(self) -> dict[str, Any]:
        return {
            "describe": self.expected.describe(),
            "digits": self.digits.to_json() if self.digits else None,
            "pan_detected": self.pan_detected,
            "any_alert": self.any_alert,
            "decided_by": self.decided_by,
        }


@dataclass(frozen=True, slots=True)
class CallEvaluation:
    """One call's score and the explanations of its misses and false alarms."""

    labels: CallLabels
    score: CallScore
    misses: tuple[Miss, ...]
    false_alarms: tuple[FalseAlarm, ...]
    cards: tuple[CardReading, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.labels.scenario,
            "tags": list(self.labels.tags),
            "conditions": dict(self.labels.conditions),
            "duration": round(self.labels.duration, 3),
            "hits": [
                {"describe": h.expected.describe(), "found": h.found.to_json(), "time_error": h.time_error}
                for h in self.score.hits
            ],
            "misses": [m.to_json() for m in self.misses],
            "false_alarms": [f.to_json() for f in self.false_alarms],
            "card_readings": [c.to_json() for c in self.cards],
        }


@dataclass(frozen=True, slots=True)
class CorpusEvaluation:
    """The whole run: per-call results, per-rule scores, audio and wall seconds."""

    calls: tuple[CallEvaluation, ...]
    rules: tuple[RuleScore, ...]
    audio_seconds: float
    wall_seconds: float
    workers: int


def load_corpus(directory: Path) -> list[tuple[CallLabels, Path]]:
    """Every labels file (*.json) in `directory` with its audio file; LabelsError names a bad or missing one."""
    if not directory.is_dir():
        raise LabelsError(f"{directory} is not a directory of labelled calls (NAME.json + audio, docs/corpus.md)")
    corpus = []
    for path in sorted(directory.glob("*.json")):
        labels = load_labels(path)
        audio = path.parent / labels.audio
        if not audio.is_file():
            raise LabelsError(f"{path}: its audio file {audio} does not exist")
        corpus.append((labels, audio))
    if not corpus:
        raise LabelsError(
            f"{directory} holds no labels files (*.json); generate some with `callwarden corpus generate`"
        )
    return corpus


def evaluate_call(
    labels: CallLabels, findings: Sequence[dict[str, Any]], events: Sequence[Any], transcript: Sequence[TranscriptLine]
) -> CallEvaluation:
    """Score one analysed call against its labels and explain what went wrong (redacted)."""
    found = [FoundFinding.from_json(f) for f in findings]
    score = score_call(labels.scenario, labels.expect, found, labels.tolerance_seconds)
    misses = tuple(Miss(e, check_digits(labels, e, events), snippet(transcript, e.start, e.end)) for e in score.misses)
    alarms = tuple(FalseAlarm(f, snippet(transcript, f.start, f.start)) for f in score.false_alarms)
    return CallEvaluation(labels, score, misses, alarms, card_readings(labels, found, events))


def card_readings(labels: CallLabels, found: Sequence[FoundFinding], events: Sequence[Any]) -> tuple[CardReading, ...]:
    """Every labelled card reading of the call with what each pass heard and what the pci rules raised there."""
    readings = []
    tolerance = labels.tolerance_seconds
    for expected in labels.expect:
        if not (expected.present and expected.rule_id == PAN_RULE and expected.outcome == "pan_detected"):
            continue
        low = (expected.start if expected.start is not None else 0.0) - tolerance
        high = (expected.end if expected.end is not None else labels.duration) + tolerance
        near = [
            f for f in found
            if f.rule_id.startswith("pci.") and low <= f.start <= high
            and (not expected.speaker or f.speaker == expected.speaker)
        ]
        pans = [f for f in near if f.rule_id == PAN_RULE and f.outcome == "pan_detected"]
        alerts = [f for f in near if f.outcome != "no_sensitive_numbers"]
        readings.append(
            CardReading(expected, check_digits(labels, expected, events), bool(pans), bool(alerts),
                        pans[0].decided_by if pans else "")
        )
    return tuple(readings)


def evaluate_corpus(
    corpus: Sequence[tuple[CallLabels, Path]],
    ruleset: RuleSet,
    asr: AsrConfig | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> CorpusEvaluation:
    """Analyse every call (up to `workers` at a time, one shared model and `workers` decoding threads) and score it.

    Raises streams.audiofile.AudioFileError on unreadable audio (before the model is loaded).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    audios = [read_audio(path) for _, path in corpus]
    config = PipelineConfig(asr=asr or AsrConfig(), workers=workers, max_queued_seconds=OFFLINE_QUEUE_SECONDS)
    began = time.perf_counter()
    results = asyncio.run(_run(list(zip((c[0] for c in corpus), audios, strict=True)), ruleset, config, progress))
    wall = time.perf_counter() - began
    calls = tuple(results)
    return CorpusEvaluation(
        calls,
        tuple(rule_scores(c.score for c in calls)),
        sum(audio.duration for audio in audios),
        wall,
        workers,
    )


async def _run(
    items: list[tuple[CallLabels, EncodedAudio]],
    ruleset: RuleSet,
    config: PipelineConfig,
    progress: Progress | None,
) -> list[CallEvaluation]:
    gate = asyncio.Semaphore(config.workers)
    done = 0

    async def one(asr: Transcription, labels: CallLabels, audio: EncodedAudio) -> CallEvaluation:
        nonlocal done
        async with gate:
            analysis = await analyze_audio(asr, audio, ruleset, labels.scenario, labels.agent_channel)
        result = evaluate_call(labels, analysis.report["findings"], analysis.events, analysis.transcript)
        done += 1
        if progress is not None:
            progress(result, done, len(items))
        return result

    async with Transcription(config) as asr:
        return list(await asyncio.gather(*(one(asr, labels, audio) for labels, audio in items)))
