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
    digits: str = ""  # spoken after `text` by a real voice from the FSDD recordings (see `spoken_digits`)
    digit_voice: str = "lucas"
    digit_takes: tuple[int, ...] = (0, 1, 2, 3, 4)  # which FSDD recordings of each digit may be used


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
    # -R: repeatable mode (dither seeded), so the same text renders to the same samples
    to_raw = ["-R", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", "-"]
    sox = subprocess.run(
        [_tool("sox"), *to_raw],
        input=espeak.stdout,
        capture_output=True,
        check=False,
    )
    if sox.returncode != 0:
        raise SynthError(f"sox failed: {sox.stderr.decode(errors='replace')[-200:]}")
    return _trim_silence(np.frombuffer(sox.stdout, dtype="<i2").astype(np.int16))


DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def spoken_digits(
    digits: str,
    fsdd_dir: Path,
    speaker: str = "lucas",
    take: int = 0,
    gap: float = 0.12,
    group_gap: float = 0.35,
    group: int = 4,
    takes: tuple[int, ...] = (0, 1, 2, 3, 4),
) -> Pcm:
    """`digits` read by a real voice: Free Spoken Digit Dataset recordings (8 kHz) joined with short pauses.

    `take` picks which of the speaker's recordings of each digit (`takes`, rotated per position) is used; give a
    subset of 0-4 in `takes` to keep material apart (e.g. a dev and a test half split by recording index).
    """
    if not takes or any(t not in range(5) for t in takes):
        raise SynthError(f"FSDD takes must be a non-empty subset of 0-4, got {takes!r}")
    if speaker not in FSDD_SPEAKERS:
        raise SynthError(f"unknown FSDD speaker {speaker!r}; use one of {', '.join(FSDD_SPEAKERS)}")
    pieces: list[Pcm] = []
    for i, char in enumerate(digits):
        if not char.isdigit():
            raise SynthError(f"spoken_digits takes digits only, got {char!r}")
        path = fsdd_dir / f"{char}_{speaker}_{takes[(take + i) % len(takes)]}.wav"
        try:
            with wave.open(str(path)) as wav:
                if wav.getframerate() != 8000 or wav.getsampwidth() != 2:
                    raise SynthError(f"{path} is not 8 kHz 16-bit audio")
                pieces.append(
                    _trim_silence(np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16))
                )
        except FileNotFoundError:
            raise SynthError(f"FSDD recording {path} is missing (shared/data/audio/fsdd)") from None
        pause = group_gap if group and i % group == group - 1 else gap
        pieces.append(np.zeros(round(pause * 8000), dtype=np.int16))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


def _raw_mono(rate: int) -> list[str]:
    """sox's description of headerless mono s16le at `rate` read from / written to a pipe."""
    return ["-t", "raw", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed", "-"]


def _resample(pcm: Pcm, src: int, dst: int) -> Pcm:
    if src == dst:
        return pcm
    sox = subprocess.run(
        [_tool("sox"), "-R", *_raw_mono(src), *_raw_mono(dst)],  # -R: repeatable dither, same call → same samples
        input=pcm.astype("<i2").tobytes(),
        capture_output=True,
        check=False,
    )
    if sox.returncode != 0:
        raise SynthError(f"sox failed: {sox.stderr.decode(errors='replace')[-200:]}")
    return np.frombuffer(sox.stdout, dtype="<i2").astype(np.int16)


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
    fsdd_dir: Path | None = None,
) -> SynthCall:
    """Render `turns` into a stereo call: each speaker on its own channel, silence on the other.

    Turns with `digits` need `fsdd_dir` (the FSDD recordings); their label text spells the digits out.
    """
    chosen = voices or {Speaker.AGENT: "en-us", Speaker.CUSTOMER: "en-gb"}
    pieces: list[tuple[int, Speaker, Pcm, str]] = []
    labels: list[TurnLabel] = []
    cursor = lead_in
    for turn in turns:
        pcm = speak(turn.text, turn.voice or chosen.get(turn.speaker, "en-us"), turn.speed, rate) if turn.text else None
        text = turn.text
        if turn.digits:
            if fsdd_dir is None:
                raise SynthError("a turn with digits needs fsdd_dir (../shared/data/audio/fsdd)")
            spoken = spoken_digits(turn.digits, fsdd_dir, turn.digit_voice, takes=turn.digit_takes)
            digits = _resample(spoken, 8000, rate)
            pause = np.zeros(round(0.25 * rate), dtype=np.int16)
            pcm = digits if pcm is None else np.concatenate([pcm, pause, digits])
            text = " ".join([turn.text, *(DIGIT_WORDS[int(c)] for c in turn.digits)]).strip()
        if pcm is None:
            raise SynthError("a turn needs text or digits")
        start = turn.at if turn.at is not None else cursor
        offset = round(start * rate)
        pieces.append((offset, turn.speaker, pcm, text))
        labels.append(TurnLabel(turn.speaker, text, offset / rate, (offset + pcm.size) / rate))
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
