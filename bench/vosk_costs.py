"""What gating and recycling can save, measured on raw Vosk: CPU per second of speech vs silence, and one recognizer's
memory as it decodes (never recycled, or recycled at utterance ends after N s).

Run: .venv/bin/python bench/vosk_costs.py silence [--reps 2]
     .venv/bin/python bench/vosk_costs.py growth
     .venv/bin/python bench/vosk_costs.py recycle --seconds 5   (one process per setting: RSS is per process)
silence: the 5 LibriVox clips at 8 kHz (24.7 s) and the same length of digital silence, faint hiss (σ 30) and
louder hiss (σ 300), each decoded by a fresh KaldiRecognizer in 0.1 s slices; thread CPU time, alternating.
growth / recycle: the acted auto-repair call (real 8 kHz telephone speech, 4.6 min), RSS (VmRSS) above the RSS
after loading the model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AUDIO = REPO.parent / "shared" / "data" / "audio"
SLICE = 1600  # bytes: 0.1 s at 8 kHz


def rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise KeyError("VmRSS")


def sox8k(path: Path) -> bytes:
    cmd = ["sox", str(path), "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def model() -> Any:
    import vosk

    from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model

    vosk.SetLogLevel(-1)
    return load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)[0]


def silence(reps: int) -> None:
    import vosk

    m = model()
    speech = b"".join(sox8k(c) for c in sorted((AUDIO / "librivox").glob("*.wav")))
    rng = np.random.default_rng(1)
    kinds = {
        "speech": speech,
        "digital silence": bytes(len(speech)),
        "hiss σ30": rng.normal(0, 30, len(speech) // 2).astype("<i2").tobytes(),
        "hiss σ300": rng.normal(0, 300, len(speech) // 2).astype("<i2").tobytes(),
    }
    cpu: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(reps):
        for kind, data in kinds.items():
            recognizer = vosk.KaldiRecognizer(m, 8000)
            began = time.thread_time()
            for i in range(0, len(data), SLICE):
                recognizer.AcceptWaveform(data[i : i + SLICE])
            recognizer.FinalResult()
            cpu[kind].append((time.thread_time() - began) / (len(data) / 16000))
    base = float(np.median(cpu["speech"]))
    for kind, values in cpu.items():
        print(f"| {kind} | {np.median(values):.4f} | {np.median(values) / base:.2f} |")


def growth(recycle: float | None) -> None:
    import vosk

    m = model()
    pcm = sox8k(AUDIO / "acted-call-auto-repair-8bit-mono.wav")
    base = rss()
    recognizer = vosk.KaldiRecognizer(m, 8000)
    age = recycles = 0
    peak = 0.0
    marks = {1, 2, 5, 10, 15, 30, 60, 120, 180, 270}
    for i in range(0, len(pcm), SLICE):
        age += SLICE // 2
        if recognizer.AcceptWaveform(pcm[i : i + SLICE]):
            json.loads(recognizer.Result())
            if recycle is not None and age >= recycle * 8000:
                recognizer = vosk.KaldiRecognizer(m, 8000)
                age = 0
                recycles += 1
        peak = max(peak, rss() - base)
        fed = (i + SLICE) / 16000
        if recycle is None and round(fed, 1) in marks:
            print(f"| {fed:.0f} | {rss() - base:.0f} |", flush=True)
    label = "never" if recycle is None else f"{recycle:g} s"
    print(f"recycle {label}: {recycles} recycles, peak +{peak:.0f} MB over {len(pcm) / 16000:.0f} s of one leg")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", choices=("silence", "growth", "recycle"))
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.what == "silence":
        silence(args.reps)
    else:
        growth(args.seconds if args.what == "recycle" else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
