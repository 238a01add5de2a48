"""Voice-activity gating: the VAD candidates on the same 8 kHz legs, ungated decode side by side (accuracy, CPU, skip).

Run: .venv/bin/python bench/vad.py [--runs 1] [--configs off,webrtc-1,webrtc-2,webrtc-3,silero-0.5] [--json out.json]
(a configuration may end in +r<seconds>: the leg's recognizer is recycled after that much decoded audio)
Material (every leg 8 kHz, G.711 mu-law round trip, decoded through `Transcription`/`CallStream`, one thread):
- librivox: the 5 shared LibriVox clips (downsampled by sox), 4 s of silence between them, as one leg; and the same
  leg with pink line noise at 20 dB SNR throughout. WER against the clips' references.
- calls: the live benchmark's calls (bench/live_calls.py: espeak agent and customer, an FSDD voice reading a test
  card), each leg decoded alone, pink noise at 20 dB SNR; each leg is half silence while the other party talks.
  WER against the same leg decoded ungated ("agreement").
- acted: the acted auto-repair call (a real 8-bit telephone recording, 4.6 min, mono). WER against ungated.
Per configuration: WER per material, the fraction of audio skipped, decode CPU seconds (process time, all threads),
and the detector's own CPU per audio second (run alone over all the material). Configurations alternate within a
run; figures are medians over --runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.live_calls import corpus  # noqa: E402
from evaluation.degrade import Noise, add_noise, g711_round_trip  # noqa: E402
from rules.events import Event, Utterance  # noqa: E402
from streams.audiofile import EncodedAudio, read_audio  # noqa: E402
from streams.codecs import AudioFormat, Encoding, channel_bytes, decode  # noqa: E402
from streams.offline import run_audio  # noqa: E402
from streams.pipeline import GatedAudio, PipelineConfig, Transcription  # noqa: E402
from streams.transcriber import AsrConfig  # noqa: E402
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model  # noqa: E402
from streams.vad import GateConfig, make_detector  # noqa: E402

AUDIO = REPO.parent / "shared" / "data" / "audio"
RATE = 8000


@dataclass(frozen=True, slots=True)
class Leg:
    material: str
    name: str
    pcm: np.ndarray[Any, np.dtype[np.int16]]
    reference: str | None  # None: the ungated decode is the reference


def asr(name: str) -> AsrConfig:
    """A configuration name: a gate, optionally `+r<seconds>` (recycle the recognizer after that much audio)."""
    gate_name, _, recycle = name.partition("+r")
    return AsrConfig(gate=gate(gate_name), recycle_seconds=float(recycle) if recycle else None)


def gate(name: str) -> GateConfig:
    """off | webrtc-<mode> | silero-<threshold>."""
    if name == "off":
        return GateConfig(enabled=False)
    engine, _, value = name.partition("-")
    if engine == "webrtc":
        return GateConfig(enabled=True, engine="webrtc", aggressiveness=int(value or 2))
    return GateConfig(enabled=True, engine="silero", threshold=float(value or 0.5))


def materials() -> list[Leg]:
    rng = np.random.default_rng(7)
    legs: list[Leg] = []
    clips = sorted((AUDIO / "librivox").glob("*.wav"))
    pieces: list[np.ndarray[Any, np.dtype[np.int16]]] = []
    for clip in clips:
        raw = subprocess.run(
            ["sox", str(clip), "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"],
            capture_output=True,
            check=True,
        ).stdout
        pieces += [np.frombuffer(raw, dtype=np.int16), np.zeros(4 * RATE, dtype=np.int16)]
    joined = np.concatenate(pieces)
    reference = " ".join(c.with_suffix(".txt").read_text().strip() for c in clips)
    legs.append(Leg("librivox", "quiet gaps", g711_round_trip(joined.reshape(-1, 1), RATE)[:, 0], reference))
    noisy = add_noise(joined.reshape(-1, 1), Noise.PINK, 20.0, rng)
    legs.append(Leg("librivox", "pink 20 dB", g711_round_trip(noisy, RATE)[:, 0], reference))
    for call in corpus()[:3]:
        noisy = g711_round_trip(add_noise(call.audio, Noise.PINK, 20.0, rng), RATE)
        for channel in (0, 1):
            legs.append(Leg("calls", f"{call.name} leg {channel}", noisy[:, channel].copy(), None))
    acted = read_audio(AUDIO / "acted-call-auto-repair-8bit-mono.wav")
    pcm = np.frombuffer(channel_bytes(decode(acted.data, acted.fmt), 0), dtype=np.int16)
    legs.append(Leg("acted", "auto repair", pcm, None))
    return legs


def transcribe(model: Any, leg: Leg, config: AsrConfig) -> tuple[str, float, float]:
    """Final text, seconds skipped, process CPU seconds."""
    events: list[Event] = []
    skipped: list[float] = []

    def on_gated(g: GatedAudio) -> None:
        if g.final:
            skipped.append(g.total_skipped)

    async def main() -> None:
        pipeline = PipelineConfig(asr=config, workers=1)
        async with Transcription(pipeline, model=model, model_rate=RATE, on_gated=on_gated) as asr:
            audio = EncodedAudio(AudioFormat(Encoding.S16LE, RATE), leg.pcm.astype("<i2").tobytes())
            await run_audio(asr, audio, events.append, leg.name, agent_channel=None)

    began = time.process_time()
    asyncio.run(main())
    cpu = time.process_time() - began
    text = " ".join(e.text for e in events if isinstance(e, Utterance) and e.final and e.text)
    return text, sum(skipped), cpu


def detector_cpu(config: GateConfig, legs: list[Leg]) -> float:
    """CPU seconds of the detector alone per second of audio (0.1 s slices, as the transcriber hands them)."""
    if not config.enabled:
        return 0.0
    seconds = 0.0
    began = time.process_time()
    for leg in legs:
        detect = make_detector(config, RATE)
        assert detect is not None
        data = leg.pcm.astype("<i2").tobytes()
        step = RATE // 10 * 2
        for offset in range(0, len(data) - step + 1, step):
            detect(data[offset : offset + step])
        seconds += len(leg.pcm) / RATE
    return (time.process_time() - began) / seconds


def main() -> int:
    import jiwer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--configs", default="off,webrtc-1,webrtc-2,webrtc-3,silero-0.5")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = args.configs.split(",")
    if names[0] != "off":
        raise SystemExit("--configs must start with off (the ungated decode is the reference)")
    model, _ = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    legs = materials()
    rows: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    for run in range(args.runs):
        ungated: dict[str, str] = {}
        for name in names:
            config = asr(name)
            texts: dict[str, list[tuple[str, str]]] = {}
            cpu_by: dict[str, float] = {}
            skipped = total = cpu = 0.0
            for leg in legs:
                text, skip, used = transcribe(model, leg, config)
                if name == "off":
                    ungated[leg.name] = text
                reference = leg.reference if leg.reference is not None else ungated[leg.name]
                texts.setdefault(leg.material, []).append((reference, text))
                skipped += skip
                total += len(leg.pcm) / RATE
                cpu += used
                cpu_by[leg.material] = cpu_by.get(leg.material, 0.0) + used
            row = rows[name]
            for material, pairs in texts.items():
                wer = float(jiwer.wer([r or "-" for r, _ in pairs], [h for _, h in pairs]))
                row.setdefault(f"wer {material}", []).append(wer)
            row.setdefault("skipped", []).append(skipped / total)
            row.setdefault("decode cpu s", []).append(cpu)
            for material, used in cpu_by.items():
                row.setdefault(f"cpu s {material}", []).append(used)
            row.setdefault("detector cpu per audio s", []).append(detector_cpu(config.gate, legs))
            print(f"run {run + 1} {name}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in row.items()), flush=True)
    summary = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in rows.items()}
    base = summary["off"]["decode cpu s"]
    print("\n| config | " + " | ".join(summary["off"]) + " | decode CPU vs off |")
    for name, medians in summary.items():
        cells = " | ".join(f"{v:.4f}" for v in medians.values())
        print(f"| {name} | {cells} | {medians['decode cpu s'] / base:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
