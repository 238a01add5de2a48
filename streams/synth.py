"""Scripted speech with known labels: espeak-ng turns rendered into 8 kHz stereo calls (agent / customer legs)."""

from __future__ import annotations

import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rules.events import Speaker

Pcm = npt.NDArray[np.int16]


class SynthError(RuntimeError):
    """espeak-ng or sox is missing or failed; the message says which and how to install it."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One line of a scripted call; `at` pins its start (seconds), else it follows the previous turn."""

    speaker: Speaker
    text: str
    at: float | None = None
    voice: str = ""
    speed: int = 160


@dataclass(frozen=True, slots=True)
class TurnLabel:
    """Where a turn landed in the rendered call (seconds of audio)."""

    speaker: Speaker
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class SynthCall:
    """A rendered call: int16 samples shaped (frames, 2), its rate, which channel is the agent, and the labels."""

    audio: Pcm
    rate: int
    agent_channel: int
    labels: tuple[TurnLabel, ...]

    @property
    def duration(self) -> float:
        return float(self.audio.shape[0]) / self.rate


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SynthError(f"{name} is not installed; install it with `apt-get install {name}`")
    return path


def speak(text: str, voice: str = "en-us", speed: int = 160, rate: int = 8000) -> Pcm:
    """`text` spoken by espeak-ng `voice` at `speed` words/min, as mono int16 at `rate` Hz (no leading silence)."""
    espeak = subprocess.run(
        [_tool("espeak-ng"), "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=False,
    )
    if espeak.returncode != 0 or not espeak.stdout:
        raise SynthError(f"espeak-ng failed for voice {voice!r}: {espeak.stderr.decode(errors='replace')[-200:]}")
    sox = subprocess.run(
        [_tool("sox"), "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", "-"],
        input=espeak.stdout,
        capture_output=True,
        check=False,
    )
    if sox.returncode != 0:
        raise SynthError(f"sox failed: {sox.stderr.decode(errors='replace')[-200:]}")
    return _trim_silence(np.frombuffer(sox.stdout, dtype="<i2").astype(np.int16))


def _trim_silence(pcm: Pcm, threshold: int = 200) -> Pcm:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    if loud.size == 0:
        return pcm
    return pcm[int(loud[0]) : int(loud[-1]) + 1]


def render_call(
    turns: Sequence[Turn],
    rate: int = 8000,
    agent_channel: int = 0,
    gap: float = 0.6,
    lead_in: float = 0.5,
    tail: float = 1.5,
    voices: dict[Speaker, str] | None = None,
) -> SynthCall:
    """Render `turns` into a stereo call: each speaker on its own channel, silence on the other."""
    chosen = voices or {Speaker.AGENT: "en-us", Speaker.CUSTOMER: "en-gb"}
    pieces: list[tuple[int, Speaker, Pcm, str]] = []
    labels: list[TurnLabel] = []
    cursor = lead_in
    for turn in turns:
        pcm = speak(turn.text, turn.voice or chosen.get(turn.speaker, "en-us"), turn.speed, rate)
        start = turn.at if turn.at is not None else cursor
        offset = round(start * rate)
        pieces.append((offset, turn.speaker, pcm, turn.text))
        labels.append(TurnLabel(turn.speaker, turn.text, offset / rate, (offset + pcm.size) / rate))
        cursor = (offset + pcm.size) / rate + gap
    total = max((o + p.size for o, _, p, _ in pieces), default=0) + round(tail * rate)
    audio = np.zeros((total, 2), dtype=np.int16)
    for offset, speaker, pcm, _ in pieces:
        channel = agent_channel if speaker is Speaker.AGENT else 1 - agent_channel
        region = audio[offset : offset + pcm.size, channel].astype(np.int32) + pcm
        audio[offset : offset + pcm.size, channel] = np.clip(region, -32768, 32767).astype(np.int16)
    return SynthCall(audio, rate, agent_channel, tuple(labels))


def write_wav(path: Path, audio: Pcm, rate: int) -> None:
    """Write int16 samples shaped (frames,) or (frames, channels) as a PCM WAV file."""
    frames = audio if audio.ndim == 2 else audio.reshape(-1, 1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype("<i2").tobytes())
