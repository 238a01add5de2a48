"""Vosk decoder tuning: telephony endpointing and rate options, applied through a derived model directory."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.models import ModelError, cache_root, load_model, resolve


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """Kaldi endpoint rules: seconds of trailing silence that close an utterance (Vosk then emits a final).

    vosk 0.3.45 (the PyPI release) has no KaldiRecognizer.SetEndpointerMode/SetEndpointerDelays, but Vosk
    reads Kaldi's `--endpoint.*` options from the model's conf/model.conf, so we derive a model directory
    (symlinks to the original plus a rewritten conf/) carrying these values. Model defaults in brackets.
    """

    silence_only: float = 5.0  # rule1 [5.0]: only silence so far → restart the utterance
    after_good_end: float = 0.5  # rule2 [0.5]: words decoded, final state likely
    after_ok_end: float = 0.75  # rule3 [0.75]: words decoded, final state plausible
    after_any: float = 1.0  # rule4 [1.0]: words decoded, any state
    max_utterance: float = 20.0  # rule5 [Kaldi 20.0]: force an end after this much audio

    def __post_init__(self) -> None:
        for name in ("silence_only", "after_good_end", "after_ok_end", "after_any", "max_utterance"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"EndpointConfig.{name} must be a positive number of seconds, got {value!r}")

    def kaldi_options(self) -> list[str]:
        """The model.conf lines that set these rules (later lines override the model's own)."""
        return [
            f"--endpoint.rule1.min-trailing-silence={self.silence_only}",
            f"--endpoint.rule2.min-trailing-silence={self.after_good_end}",
            f"--endpoint.rule3.min-trailing-silence={self.after_ok_end}",
            f"--endpoint.rule4.min-trailing-silence={self.after_any}",
            f"--endpoint.rule5.min-utterance-length={self.max_utterance}",
        ]


TELEPHONY_ENDPOINTS = EndpointConfig(after_good_end=0.4, after_ok_end=0.6, after_any=0.8, max_utterance=15.0)
"""Our default: finals ~0.1-0.2 s sooner than the model's defaults, and no utterance longer than 15 s."""

RATE_OPTIONS = ("--allow-upsample=true", "--allow-downsample=true")
"""Let Kaldi resample any input rate itself (measured: as accurate as sox; better than sox when upsampling 8 kHz)."""


def model_rate(model_dir: Path) -> int:
    """The sample rate the acoustic model expects (conf/mfcc.conf --sample-frequency, default 16000)."""
    for line in (model_dir / "conf" / "mfcc.conf").read_text().splitlines():
        if line.strip().startswith("--sample-frequency="):
            return int(float(line.split("=", 1)[1]))
    return 16000


def tuned_model_dir(base: Path, endpoints: EndpointConfig) -> Path:
    """A model directory equal to `base` but with our endpoint and rate options (created once, then reused)."""
    base = base.resolve()
    extra = {"model.conf": endpoints.kaldi_options(), "mfcc.conf": list(RATE_OPTIONS)}
    digest = hashlib.sha256(repr((str(base), sorted(extra.items()))).encode()).hexdigest()[:16]
    for root in (cache_root() / "tuned", Path(tempfile.gettempdir()) / "callwarden-tuned"):
        target = root / f"{base.name}-{digest}"
        if (target / "conf" / "model.conf").exists():
            return target
        try:
            _build_overlay(base, target, extra)
            return target
        except OSError:
            continue
    raise ModelError(f"cannot create a tuned copy of the model at {base}: cache and temp directory not writable")


def _build_overlay(base: Path, target: Path, extra: dict[str, list[str]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    for entry in base.iterdir():
        if entry.name != "conf":
            (staging / entry.name).symlink_to(entry)
    (staging / "conf").mkdir()
    for entry in (base / "conf").iterdir():
        if entry.name in extra:
            text = entry.read_text().rstrip("\n") + "\n" + "\n".join(extra[entry.name]) + "\n"
            (staging / "conf" / entry.name).write_text(text)
        else:
            (staging / "conf" / entry.name).symlink_to(entry)
    try:
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "conf" / "model.conf").exists():
            raise
        # another process built the same overlay first: use theirs


def load_tuned_model(language: str, model_path: str | None, endpoints: EndpointConfig) -> tuple[Any, int]:
    """The shared `vosk.Model` with our tuning, and the sample rate its acoustic model expects."""
    base = resolve(language, model_path)
    tuned = tuned_model_dir(base, endpoints)
    return load_model(language, tuned), model_rate(base)
