"""Digit pass CPU overhead: the same calls through the streaming pipeline with the digit pass on and off, side by side.

Run: .venv/bin/python bench/digit_pass.py [--runs 3] [--json out.json]
Two sets of stereo 8 kHz calls (espeak-ng agent and customer, mu-law round trip), each decoded in-process through
`Transcription`/`CallStream` (the live path; one decoding thread) with one loaded model:
- card: the live benchmark's call (bench/live_calls.py: greeting, recording disclosure and consent question, consent,
  the agent asks for the card, an FSDD voice reads a test card, goodbye; ~30 s), one per FSDD speaker;
- plain: calls without payment talk or digits (greeting, a question about an address change, goodbye).
Each run decodes every call of every set with the digit pass off and on, call by call, the order alternating from
call to call and run to run (off-on, on-off, …: a drift in the machine's load falls on both alike), and records the
process CPU seconds (user + system) of each decode; the overhead is (on − off) / off per set and run, median over
--runs. The machine is shared: the two configurations are measured side by side in one run, never against another
run's figures. The digit pass's own thread CPU (what it adds, free of the process figure's noise) is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.live_calls import render  # noqa: E402
from evaluation.card_readings import CARDS  # noqa: E402
from evaluation.corpus import VOICES  # noqa: E402
from evaluation.degrade import g711_round_trip  # noqa: E402
from evaluation.synth import FSDD_SPEAKERS, Turn, render_call  # noqa: E402
from rules.events import Speaker  # noqa: E402
from streams.audiofile import EncodedAudio  # noqa: E402
from streams.codecs import AudioFormat, Encoding  # noqa: E402
from streams.digitpass import DigitPassConfig  # noqa: E402
from streams.offline import run_audio  # noqa: E402
from streams.pipeline import PipelineConfig, Transcription  # noqa: E402
from streams.transcriber import AsrConfig  # noqa: E402
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model  # noqa: E402

PLAIN_SCRIPTS = (
    ("good morning, thank you for calling. how can i help you today?", "hello. i moved house and need to change my "
     "address.", "of course. i have updated your address. is there anything else?", "no, that is all. goodbye."),
    ("hello, you are speaking with the help desk.", "hi. my internet has been slow since yesterday.",
     "i am sorry to hear that. i have restarted the line from here, please try again.", "it works now, thanks."),
)


def plain_calls() -> list[EncodedAudio]:
    """Calls without payment talk or digits."""
    out = []
    for lines in PLAIN_SCRIPTS * 3:
        turns = [Turn(Speaker.AGENT if i % 2 == 0 else Speaker.CUSTOMER, text, speed=135) for i, text in
                 enumerate(lines)]
        call = render_call(turns, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=VOICES)
        pcm = g711_round_trip(call.audio, 8000)
        out.append(EncodedAudio(AudioFormat(Encoding.S16LE, 8000, 2), pcm.astype("<i2").tobytes()))
    return out


def card_calls() -> list[EncodedAudio]:
    """One call with one card reading per FSDD speaker."""
    out = []
    for i, voice in enumerate(FSDD_SPEAKERS):
        call = render(CARDS[i % len(CARDS)], voice, f"bench-{voice}")
        pcm = g711_round_trip(call.audio, call.rate)
        out.append(EncodedAudio(AudioFormat(Encoding.S16LE, call.rate, 2), pcm.astype("<i2").tobytes()))
    return out


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def decode_counted(model: Any, rate: int, audios: list[EncodedAudio], digit_pass: bool) -> dict[str, float]:
    """Decode `audios` one after another; process CPU seconds and the digit pass's own counters."""
    totals = {"sessions": 0.0, "digit_cpu": 0.0, "digit_audio": 0.0}

    def ran(stats: Any) -> None:
        totals["sessions"] += stats.sessions
        totals["digit_cpu"] += stats.cpu_seconds
        totals["digit_audio"] += stats.audio_seconds

    config = PipelineConfig(asr=AsrConfig(digit_pass=DigitPassConfig(enabled=digit_pass)), workers=1,
                            max_queued_seconds=1.0)
    async with Transcription(config, model=model, model_rate=rate, on_digit_pass=ran) as asr:
        began = cpu()
        for i, audio in enumerate(audios):
            await run_audio(asr, audio, lambda _event: None, f"bench-{i}", 0)
        spent = cpu() - began
    return {"cpu": spent, **totals}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model, rate = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    sets = {"card": card_calls(), "plain": plain_calls()}
    audio = {name: sum(a.duration for a in audios) for name, audios in sets.items()}
    rows: dict[str, list[dict[str, float]]] = {f"{name} {state}": [] for name in sets for state in ("off", "on")}
    for run in range(args.runs):
        for name, audios in sets.items():
            keys = ("cpu", "sessions", "digit_cpu", "digit_audio")
            sums = {state: dict.fromkeys(keys, 0.0) for state in ("off", "on")}
            for i, one in enumerate(audios):
                for state in ("off", "on") if (run + i) % 2 == 0 else ("on", "off"):
                    counted = asyncio.run(decode_counted(model, rate, [one], state == "on"))
                    for key, value in counted.items():
                        sums[state][key] += value
            for state in ("off", "on"):
                result = sums[state]
                rows[f"{name} {state}"].append(result)
                print(f"run {run + 1} {name:5} digit pass {state:3}: {result['cpu']:6.1f} CPU-s for "
                      f"{audio[name]:.0f} s of audio; digit pass sessions {result['sessions']:.0f}, "
                      f"its CPU {result['digit_cpu']:.2f} s, audio {result['digit_audio']:.1f} s", flush=True)
    summary: dict[str, Any] = {"audio_seconds": audio, "runs": args.runs, "loadavg_after": os.getloadavg()}
    for name in sets:
        overheads = [(on["cpu"] - off["cpu"]) / off["cpu"] for off, on in
                     zip(rows[f"{name} off"], rows[f"{name} on"], strict=True)]
        own = [on["digit_cpu"] / off["cpu"] for off, on in zip(rows[f"{name} off"], rows[f"{name} on"], strict=True)]
        summary[name] = {
            "cpu_off_median": statistics.median(r["cpu"] for r in rows[f"{name} off"]),
            "cpu_on_median": statistics.median(r["cpu"] for r in rows[f"{name} on"]),
            "overhead_median": statistics.median(overheads),
            "overheads": overheads,
            "digit_pass_own_cpu_share_median": statistics.median(own),
            "sessions": rows[f"{name} on"][0]["sessions"],
            "digit_audio_seconds": rows[f"{name} on"][0]["digit_audio"],
        }
        print(f"{name}: process CPU off {summary[name]['cpu_off_median']:.1f} s, on "
              f"{summary[name]['cpu_on_median']:.1f} s → overhead {summary[name]['overhead_median'] * 100:+.1f} % "
              f"(per run {', '.join(f'{o * 100:+.1f}' for o in overheads)}); digit pass's own thread CPU "
              f"{summary[name]['digit_pass_own_cpu_share_median'] * 100:.1f} % of the off run")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
