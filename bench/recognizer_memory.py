"""Memory of one 10-minute call: (peak RSS − RSS at start) with and without recycling the legs' recognizers and gating.

Run: .venv/bin/python bench/recognizer_memory.py [--minutes 10] [--configs off,off+r10,webrtc,webrtc+r10]
The call: the live benchmark's stereo calls (bench/live_calls.py: espeak agent and customer, an FSDD voice reading a
test card; each leg silent while the other talks), pink line noise at 20 dB SNR, mu-law round trip, concatenated to
--minutes. Each configuration runs in a fresh process (RSS is per process): load the model, enter `Transcription`
(2 decoding threads), note RSS, decode the call through `CallStream` at full speed, then read the peak (VmHWM).
A configuration is a gate (off | webrtc | silero) optionally followed by +r<seconds> (recycle_seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def status(field: str) -> float:
    """A /proc/self/status field in MiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def long_call(minutes: float) -> np.ndarray:
    from bench.live_calls import corpus
    from evaluation.degrade import Noise, add_noise, g711_round_trip

    rng = np.random.default_rng(11)
    calls = corpus()
    pieces = []
    seconds = 0.0
    i = 0
    while seconds < minutes * 60:
        call = calls[i % len(calls)]
        pieces.append(g711_round_trip(add_noise(call.audio, Noise.PINK, 20.0, rng), 8000))
        seconds += call.audio.shape[0] / 8000
        i += 1
    return np.concatenate(pieces)


def child(name: str, minutes: float) -> dict[str, float]:
    from rules.events import Event
    from streams.audiofile import EncodedAudio
    from streams.codecs import AudioFormat, Encoding
    from streams.offline import run_audio
    from streams.pipeline import PipelineConfig, Transcription
    from streams.transcriber import AsrConfig
    from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model
    from streams.vad import gate_config

    gate_name, _, recycle = name.partition("+r")
    config = AsrConfig(gate=gate_config(gate_name), recycle_seconds=float(recycle) if recycle else None)
    pcm = long_call(minutes)
    audio = EncodedAudio(AudioFormat(Encoding.S16LE, 8000, 2), pcm.astype("<i2").tobytes())
    model, _ = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    events: list[Event] = []
    out: dict[str, float] = {}

    async def main() -> None:
        async with Transcription(PipelineConfig(asr=config, workers=2), model=model, model_rate=8000) as asr:
            out["rss_start"] = status("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            began = time.process_time()
            await run_audio(asr, audio, events.append, "memory", agent_channel=0)
            out["cpu_s"] = time.process_time() - began
            out["recycled"] = asr.recycled
        out["peak"] = status("VmHWM")

    asyncio.run(main())
    out["audio_s"] = pcm.shape[0] / 8000
    out["growth_mb"] = out["peak"] - out["rss_start"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--configs", default="off,off+r10,webrtc,webrtc+r10")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.minutes)))
        return 0
    print("| config | call min | recycled | RSS at start MB | peak RSS MB | peak − start MB (per call) | CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.configs.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--minutes", str(args.minutes)]
        result = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        print(
            f"| {name} | {result['audio_s'] / 60:.1f} | {result['recycled']:.0f} | {result['rss_start']:.0f} | "
            f"{result['peak']:.0f} | **{result['growth_mb']:.0f}** | {result['cpu_s']:.0f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
