"""ASR throughput benchmark: N concurrent legs through the pipeline vs a raw single-threaded Vosk loop.

Run: .venv/bin/python bench/asr.py [--seconds 30] [--runs 3] [--legs 1,2,4,8] [--write]
Each leg is the same real 8 kHz telephone recording (shared/data/audio/acted-call-auto-repair-8bit-mono.wav,
its first --seconds), fed as 20 ms 8-bit chunks at full speed. Figures are medians over --runs.
With --write the "## ASR throughput (streams)" section of BENCHMARKS.md is replaced (other sections kept).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streams.audiofile import EncodedAudio, read_audio  # noqa: E402
from streams.codecs import channel_bytes, decode  # noqa: E402
from streams.offline import feed_audio  # noqa: E402
from streams.pipeline import CallStream, PipelineConfig, Transcription  # noqa: E402
from streams.transcriber import AsrConfig  # noqa: E402
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model  # noqa: E402

CLIP = REPO / ".." / "shared" / "data" / "audio" / "acted-call-auto-repair-8bit-mono.wav"
SECTION = "## ASR throughput (streams)"


@dataclass(frozen=True, slots=True)
class Row:
    legs: int
    wall: float
    audio: float
    cpu: float  # CPU seconds this process used (all threads)

    @property
    def throughput(self) -> float:
        """Audio-seconds decoded per wall-second, all legs together."""
        return self.audio / self.wall

    @property
    def cores_used(self) -> float:
        return self.cpu / self.wall

    @property
    def per_cpu(self) -> float:
        """Audio-seconds decoded per CPU-second."""
        return self.audio / self.cpu


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def leg_audio(seconds: float) -> EncodedAudio:
    full = read_audio(CLIP)
    nbytes = round(seconds * full.fmt.rate) * full.fmt.frame_bytes
    return EncodedAudio(full.fmt, full.data[:nbytes])


def raw_vosk(model: Any, audio: EncodedAudio) -> Row:
    """The plain Vosk loop (one thread, AcceptWaveform/Result, 0.1 s chunks): wall and CPU time."""
    import vosk

    pcm = channel_bytes(decode(audio.data, audio.fmt), 0)
    step = audio.fmt.rate // 10 * 2
    started, cpu = time.perf_counter(), cpu_seconds()
    recognizer = vosk.KaldiRecognizer(model, audio.fmt.rate)
    recognizer.SetWords(True)
    for offset in range(0, len(pcm), step):
        if recognizer.AcceptWaveform(pcm[offset : offset + step]):
            json.loads(recognizer.Result())
    json.loads(recognizer.FinalResult())
    return Row(1, time.perf_counter() - started, audio.duration, cpu_seconds() - cpu)


async def pipeline_run(asr: Transcription, audio: EncodedAudio, legs: int) -> Row:
    """`legs` mono calls fed concurrently at full speed; wall time until every call ended."""

    async def one(index: int) -> None:
        async with asr.call(f"bench-{index}", audio.fmt) as call:
            drain = asyncio.create_task(_drain(call))
            await feed_audio(call, audio, 0.02)
        await drain

    started, cpu = time.perf_counter(), cpu_seconds()
    async with asyncio.TaskGroup() as group:
        for index in range(legs):
            group.create_task(one(index))
    return Row(legs, time.perf_counter() - started, legs * audio.duration, cpu_seconds() - cpu)


async def _drain(call: CallStream) -> None:
    async for _ in call.events():
        pass


@dataclass(frozen=True, slots=True)
class Measured:
    """Per leg count: the median pipeline run and the paired ratios (pipeline ÷ the raw run just before it)."""

    row: Row
    ratios: tuple[float, ...]

    @property
    def ratio(self) -> float:
        return sorted(self.ratios)[len(self.ratios) // 2]


async def measure(model: Any, audio: EncodedAudio, legs: list[int], runs: int) -> tuple[list[Measured], list[Row]]:
    """Rounds of (raw Vosk, then the pipeline at each N): each pipeline run is paired with the raw run just before
    it, so machine noise that drifts over minutes cancels in the ratio."""
    samples: dict[int, list[Row]] = {n: [] for n in legs}
    ratios: dict[int, list[float]] = {n: [] for n in legs}
    raws: list[Row] = []
    async with Transcription(PipelineConfig(asr=AsrConfig()), model=model) as asr:
        for _ in range(runs):
            for n in legs:
                raw = raw_vosk(model, audio)
                row = await pipeline_run(asr, audio, n)
                raws.append(raw)
                samples[n].append(row)
                ratios[n].append(row.per_cpu / raw.per_cpu)
    return [Measured(_median_row(samples[n]), tuple(ratios[n])) for n in legs], raws


def _median_row(samples: list[Row]) -> Row:
    """The median run by wall time (its CPU time with it)."""
    return sorted(samples, key=lambda r: r.wall)[len(samples) // 2]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    import importlib.metadata as md

    return (
        f"nproc {os.cpu_count()}, CPU {cpu}, RAM {mem_kb / 1024 / 1024:.1f} GiB, Python {platform.python_version()}, "
        f"vosk {md.version('vosk')}, numpy {md.version('numpy')}, {datetime.date.today().isoformat()}"
    )


def report(measured: list[Measured], raw: Row, workers: int, seconds: float, runs: int) -> str:
    lines = [
        SECTION,
        "",
        f"Machine: {machine()}.",
        f"Load average when the run ended: {os.getloadavg()[0]:.1f}. Wall-clock figures are medians of {runs} runs;",
        "the ratio is the median of paired ratios (each pipeline run against the raw run just before it).",
        "",
        f"Each leg: {seconds:g} s of a real 8 kHz telephone recording (8-bit WAV), fed in 20 ms chunks at full",
        "speed through `Transcription`/`CallStream` (default config: 0.1 s slices, partials every 0.3 s, telephony",
        f"endpointing, {workers} decoding threads). Raw Vosk: one thread, AcceptWaveform/Result over the same audio",
        "in 0.1 s chunks, no partials, same model and rate (median raw run): "
        f"**{raw.throughput:.2f} audio-s per wall-s, {raw.per_cpu:.2f} audio-s per CPU-s**.",
        "",
        "| legs | wall s | RTF per leg | audio-s / wall-s | cores used | raw × cores used | ratio (min–max) | "
        "audio-s / CPU-s (raw) | keeps up |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for m in measured:
        row = m.row
        target = raw.per_cpu * row.cores_used
        keeps = "yes" if row.wall <= seconds else "no"
        lines.append(
            f"| {row.legs} | {row.wall:.2f} | {row.wall / seconds:.3f} | {row.throughput:.2f} | {row.cores_used:.2f} | "
            f"{target:.2f} | **{m.ratio:.2f}** ({min(m.ratios):.2f}–{max(m.ratios):.2f}) | "
            f"{row.per_cpu:.2f} ({raw.per_cpu:.2f}) | {keeps} |"
        )
    rows = [m.row for m in measured]
    best = max((r.legs for r in rows if r.wall <= seconds), default=0)
    capacity = max(r.per_cpu for r in rows) * workers
    lines += [
        "",
        f"Largest N measured that kept up with real time here: **{best}**. RTF per leg = wall / audio time;",
        "cores used = process CPU-s / wall-s; raw × cores used = raw audio-s per CPU-s × cores used;",
        "ratio = our throughput / (raw × cores used) = our audio-s per CPU-s / raw's (target ≥ 0.9). Estimated, not",
        f"measured: an idle machine with all {workers} cores: ≈ {capacity:.1f} audio-s/wall-s,",
        f"i.e. about {int(capacity)} live legs (≈ {int(capacity) // 2} stereo calls).",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = REPO / "BENCHMARKS.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if SECTION in old:
        head, rest = old.split(SECTION, 1)
        tail = rest[rest.find("\n## ") + 1 :] if "\n## " in rest else ""
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--legs", default="1,2,4,8")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    audio = leg_audio(args.seconds)
    model, _ = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    legs = [int(n) for n in args.legs.split(",")]
    measured, raws = asyncio.run(measure(model, audio, legs, args.runs))
    text = report(measured, _median_row(raws), os.cpu_count() or 1, audio.duration, args.runs)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
