"""Mono vs stereo (issue #19, acceptance 4): a generated corpus mixed down to one channel, outcomes compared per call.

Run: .venv/bin/python bench/mono_attribution.py CORPUS_DIR [--json out.json] [--events-dir DIR] [--no-attribution]
     [--calls N]
CORPUS_DIR is `callwarden corpus generate DIR --calls 40 --seed 1` output. Every stereo call is mixed down with sox
(`-c 1`) and both versions go through the live path (evaluation/analyze.py: CallStream with the real Vosk model,
then the rules engine), stereo and mono of one call one after the other, calls in order. The mono call is one
`unknown` leg that the pipeline splits into agent and customer turns (rules/attribution.py); `--no-attribution`
leaves it one unknown leg (today's behaviour before the split, for comparison). `--events-dir` writes each mono
call's events (JSON lines, card digits NOT redacted: a development aid for generated test cards only) so the
attribution can be replayed offline on them: `--replay EVENTS_DIR --stereo out.json` splits the recorded unknown-leg
events (of a `--no-attribution` run) with the current rules/attribution.py and compares them with that run's stereo
outcomes, without the recognizer (how the cues were tuned on a dev corpus). Output: per-family agreement
(disclosure, consent, pci: the sets of finding outcomes equal), per-rule status agreement, and the calls that
differ (evaluation/mono.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluation.analyze import analyze_audio, offline_config  # noqa: E402
from evaluation.mono import (  # noqa: E402
    FAMILIES,
    CallComparison,
    attribute_events,
    family_outcomes,
    mix_down,
    rule_statuses,
    summarize,
    word_attribution,
)
from evaluation.run import load_corpus  # noqa: E402
from rules.engine import CallMonitor  # noqa: E402
from rules.eventlog import dumps_event, loads_events  # noqa: E402
from rules.events import DigitReading, Speaker, Utterance  # noqa: E402
from rules.packs import load_packs  # noqa: E402
from streams.audiofile import read_audio  # noqa: E402
from streams.pipeline import PipelineConfig, Transcription  # noqa: E402


async def compare(args: argparse.Namespace) -> dict[str, Any]:
    corpus = load_corpus(args.corpus)[args.skip : (args.skip + args.calls) if args.calls else None]
    ruleset = load_packs([])
    base = offline_config()
    config = PipelineConfig(
        asr=base.asr, max_queued_seconds=base.max_queued_seconds, attribute_mono=not args.no_attribution
    )
    calls: list[CallComparison] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cw-mono-") as tmp:
        async with Transcription(config) as asr:
            for i, (labels, path) in enumerate(corpus, start=1):
                mono_path = Path(tmp) / f"{path.stem}-mono.wav"
                mix_down(path, mono_path)
                stereo = mono = None
                if args.side in ("both", "stereo"):
                    stereo = await analyze_audio(asr, read_audio(path), ruleset, path.stem, labels.agent_channel)
                if args.side in ("both", "mono"):
                    mono = await analyze_audio(asr, read_audio(mono_path), ruleset, path.stem, None)
                stereo = stereo or mono
                mono = mono or stereo
                assert stereo is not None and mono is not None
                if args.events_dir is not None:
                    args.events_dir.mkdir(parents=True, exist_ok=True)
                    lines = [dumps_event(e) for e in mono.events]
                    (args.events_dir / f"{path.stem}.jsonl").write_text("\n".join(lines) + "\n")
                confidences = tuple(
                    e.attribution_confidence
                    for e in mono.events
                    if isinstance(e, Utterance) and e.final and e.words and e.attribution_confidence is not None
                )
                comparison = CallComparison(
                    path.stem,
                    labels.scenario,
                    family_outcomes(stereo.findings),
                    family_outcomes(mono.findings),
                    rule_statuses(stereo.report),
                    rule_statuses(mono.report),
                    confidences,
                )
                calls.append(comparison)
                if args.json is not None:  # after every call: a run cut short keeps what it measured
                    args.json.write_text(json.dumps({"summary": {}, "calls": [c.to_json() for c in calls]}))
                marks = " ".join(f"{f}={'=' if comparison.agrees(f) else 'X'}" for f in FAMILIES)
                print(f"[{i}/{len(corpus)}] {path.stem} {labels.scenario}: {marks}", file=sys.stderr, flush=True)
    summary = summarize(calls)
    summary["attribution"] = not args.no_attribution
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    return {"summary": summary, "calls": [c.to_json() for c in calls]}


def replay(args: argparse.Namespace) -> dict[str, Any]:
    """The attribution replayed on recorded mono events, compared with a previous run's stereo outcomes."""
    by_stem = {path.stem: labels for labels, path in load_corpus(args.corpus)}
    if args.stereo is not None:
        previous = json.loads(args.stereo.read_text())
    else:  # no stereo run: every recorded call, compared with nothing (word attribution vs labels only)
        empty: dict[str, list[str]] = {family: [] for family in FAMILIES}
        previous = {
            "calls": [
                {"call": p.stem, "kind": by_stem[p.stem].scenario, "stereo": empty, "stereo_rules": {}}
                for p in sorted(args.replay.glob("*.jsonl"))
            ]
        }
    ruleset = load_packs([])
    calls: list[CallComparison] = []
    right = total = 0
    for call in previous["calls"]:
        recorded = loads_events((args.replay / f"{call['call']}.jsonl").read_text())
        if args.as_unknown:  # the words of the split call as one unknown leg again (how it was before the split)
            recorded = [
                replace(e, speaker=Speaker.UNKNOWN, attribution_confidence=None) if isinstance(e, Utterance)
                else replace(e, speaker=Speaker.UNKNOWN) if isinstance(e, DigitReading) else e
                for e in recorded
            ]
        events = recorded if args.no_attribution or args.as_unknown else attribute_events(recorded)
        monitor = CallMonitor(ruleset, call_id=call["call"])
        for event in events:
            monitor.feed(event)
        r, t = word_attribution(events, by_stem[call["call"]].turns)
        right, total = right + r, total + t
        confidences = tuple(
            e.attribution_confidence
            for e in events
            if isinstance(e, Utterance) and e.final and e.words and e.attribution_confidence is not None
        )
        calls.append(
            CallComparison(
                call["call"], call["kind"], {k: tuple(v) for k, v in call["stereo"].items()},
                family_outcomes(monitor.findings), call["stereo_rules"], rule_statuses(monitor.report()), confidences,
            )
        )
        if args.verbose:
            print(f"--- {call['call']} ({r}/{t} words)", file=sys.stderr)
            for e in events:
                if isinstance(e, Utterance) and e.final and e.text:
                    print(f"  {e.start:6.1f} {e.speaker.value:8} {e.attribution_confidence} {e.text}", file=sys.stderr)
    summary = summarize(calls)
    summary["attribution"] = not args.as_unknown
    summary["wall_seconds"] = 0.0
    summary["words_attributed"] = f"{right}/{total} ({100 * right / max(1, total):.1f} %)"
    return {"summary": summary, "calls": [c.to_json() for c in calls]}


def merge(stereo_path: Path, mono_path: Path) -> dict[str, Any]:
    """One comparison from a stereo-only and a mono-only run over the same calls."""
    stereo = {c["call"]: c for c in json.loads(stereo_path.read_text())["calls"]}
    mono_run = json.loads(mono_path.read_text())
    calls = [
        CallComparison(
            c["call"], c["kind"], {k: tuple(v) for k, v in stereo[c["call"]]["stereo"].items()},
            {k: tuple(v) for k, v in c["mono"].items()}, stereo[c["call"]]["stereo_rules"], c["mono_rules"],
            tuple(c["attribution_confidences"]),
        )
        for c in mono_run["calls"]
        if c["call"] in stereo
    ]
    summary = summarize(calls)
    summary["attribution"] = mono_run["summary"]["attribution"]
    summary["wall_seconds"] = mono_run["summary"]["wall_seconds"]
    return {"summary": summary, "calls": [c.to_json() for c in calls]}


def print_table(result: dict[str, Any]) -> None:
    s = result["summary"]
    n = s["calls"]
    print(f"calls: {n}  (attribution {'on' if s['attribution'] else 'off'}, {s['wall_seconds']} s)")
    for family, agree in s["families"].items():
        print(f"  {family:<10} agree {agree}/{n} ({100 * agree / n:.1f} %)")
    print(f"  all three  agree {s['all_three']}/{n} ({100 * s['all_three'] / n:.1f} %)")
    print(f"  mean attribution confidence of mono turns: {s['mean_attribution_confidence']}")
    if "words_attributed" in s:
        print(f"  words attributed to their labelled speaker: {s['words_attributed']}")
    print("rule                          status agrees   failed stereo   failed mono")
    for rule, r in s["rules"].items():
        print(f"  {rule:<28} {r['agree']:>3}/{n}          {r['stereo_failed']:>3}            {r['mono_failed']:>3}")
    for call in result["calls"]:
        if not all(call["agree"].values()):
            diff = {f: (call["stereo"][f], call["mono"][f]) for f, ok in call["agree"].items() if not ok}
            print(f"  differs: {call['call']} ({call['kind']}): {diff}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--events-dir", type=Path)
    parser.add_argument("--no-attribution", action="store_true")
    parser.add_argument("--calls", type=int, default=0, help="only N calls")
    parser.add_argument("--skip", type=int, default=0, help="start after the first N calls")
    parser.add_argument(
        "--side", choices=("both", "stereo", "mono"), default="both",
        help="analyse only one side (its outcomes stand in for the other's; combine two runs with --merge)",
    )
    parser.add_argument(
        "--merge", type=Path, nargs=2, metavar=("STEREO.json", "MONO.json"),
        help="no analysis: combine a --side stereo run and a --side mono run of the same calls",
    )
    parser.add_argument("--replay", type=Path, help="recorded mono events (an --events-dir) to split offline")
    parser.add_argument("--stereo", type=Path, help="with --replay: the --json of the stereo run to compare with")
    parser.add_argument("--verbose", action="store_true", help="with --replay: print every attributed final")
    parser.add_argument(
        "--as-unknown", action="store_true",
        help="with --replay: every utterance back to one unknown speaker (the call as it was judged before the split)",
    )
    args = parser.parse_args()
    if args.merge is not None:
        result = merge(*args.merge)
    elif args.replay is not None:
        result = replay(args)
    else:
        result = asyncio.run(compare(args))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
