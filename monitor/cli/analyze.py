"""`callwarden analyze FILE`: a recorded call through the live path and the rules engine → its scoring report."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from evaluation.analyze import CallAnalysis, analyze_files, offline_config
from monitor.cli.options import add_model_options, asr_config
from rules.eventlog import dumps_event
from rules.events import CallStarted, DigitReading, Event, Utterance
from rules.packs import PackError, RuleSet, load_packs
from rules.redact import Redactor
from streams.audiofile import AudioFileError, read_audio

STATUS_MARK = {"passed": "PASS", "failed": "FAIL", "not_applicable": "n/a "}
QUIET_OUTCOMES = ("absent", "no_sensitive_numbers")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `analyze` (sets func=run)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "analyze",
        help="check a recorded call against the rule packs and print its scoring report",
        description=(
            "Stream FILE through exactly the code path live calls take (per-leg Vosk transcription), feed the "
            "events to the rules engine and print the call's report: findings with severity, time, rule and "
            "redacted evidence, the score and each rule's pass/fail. Exit code 0 when the call was analysed "
            "(whether it passed or not), 2 on unusable input."
        ),
    )
    parser.add_argument("file", type=Path, help="audio file: WAV (PCM 8/16-bit, mu-law, A-law), FLAC, …")
    parser.add_argument("--rules", type=Path, help="a directory of extra *.yaml rule packs")
    parser.add_argument("--no-builtin", action="store_true", help="ignore the built-in packs")
    parser.add_argument(
        "--agent-channel", type=int, choices=(0, 1), default=0, help="stereo channel of the agent (default 0)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON (docs/report.md)")
    parser.add_argument(
        "--events-out",
        type=Path,
        metavar="FILE.jsonl",
        help="also write the event log (rules.eventlog) for `callwarden replay`; card digits are redacted in it, "
        "so replay reproduces every finding except those that need the digits (card, CVV, SSN detectors)",
    )
    parser.add_argument("--transcript", action="store_true", help="also print the redacted transcript")
    parser.add_argument("--pass-mark", type=float, default=80.0, help="score a call needs to pass (default 80)")
    add_model_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Analyse args.file; 0 when analysed, 2 on unusable input (file, packs, channel, output path)."""
    out, err = out or sys.stdout, err or sys.stderr
    problem = _check_input(args)
    if problem:
        print(f"callwarden analyze: {problem}", file=err)
        return 2
    try:
        ruleset = load_packs([args.rules] if args.rules else [], builtin=not args.no_builtin)
    except PackError as exc:
        print(f"callwarden analyze: {exc}", file=err)
        return 2
    if not ruleset.rules:
        print("callwarden analyze: no rules loaded (--no-builtin without --rules DIR holding packs)", file=err)
        return 2
    config = offline_config(asr_config(args))
    analysis = analyze_files([args.file], ruleset, args.agent_channel, config, args.pass_mark)[0]
    if args.events_out is not None:
        write_event_log(args.events_out, analysis.events)
        print(
            f"callwarden analyze: wrote {len(analysis.events)} events to {args.events_out} (card digits redacted)",
            file=err,
        )
    if args.json:
        print(json.dumps(analysis.report, ensure_ascii=False), file=out)
    else:
        print_summary(analysis, ruleset, out, transcript=args.transcript)
    return 0


def _check_input(args: argparse.Namespace) -> str:
    """The reason the input cannot be analysed, or "" (checked before the model is loaded)."""
    try:
        audio = read_audio(args.file)
    except AudioFileError as exc:
        return str(exc)
    if audio.fmt.channels > 2:
        return f"{args.file} has {audio.fmt.channels} channels; use mono or stereo (agent and customer legs)"
    if audio.duration <= 0:
        return f"{args.file} holds no audio frames"
    if args.rules is not None and not args.rules.is_dir():
        return f"--rules {args.rules} is not a directory of *.yaml rule packs"
    if args.events_out is not None:
        parent = args.events_out.parent
        if not parent.is_dir():
            return f"--events-out {args.events_out}: directory {parent} does not exist"
        if args.events_out.is_dir():
            return f"--events-out {args.events_out} is a directory; give a file name such as call.jsonl"
    return ""


def write_event_log(path: Path, events: Sequence[Event]) -> None:
    """Write events as JSON lines (rules.eventlog), owner-readable only, with card digits redacted.

    Card data never leaves the process: every utterance's text and words pass through one per-call Redactor
    (the same masking as transcripts), so a masked word's text becomes its mask; the digit pass's readings
    (DigitReading) are all digits and are masked whole.
    """
    redactors: dict[str, Redactor] = {}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for event in events:
            if isinstance(event, CallStarted):
                redactors[event.call_id] = Redactor(lang=event.language)
            elif isinstance(event, Utterance):
                event = redact_utterance_event(redactors.setdefault(event.call_id, Redactor()), event)
            elif isinstance(event, DigitReading):
                event = redact_digit_reading(event)
            f.write(dumps_event(event) + "\n")


def redact_digit_reading(reading: DigitReading) -> DigitReading:
    """The digit pass's reading with every word masked as "[number]" (it holds nothing but digits)."""
    return dataclasses.replace(reading, words=tuple(dataclasses.replace(w, text="[number]") for w in reading.words))


def redact_utterance_event(redactor: Redactor, utterance: Utterance) -> Utterance:
    """The utterance with masked words replaced by "[number]" and its text redacted."""
    words = [w.text for w in utterance.words] if utterance.words else utterance.text.split()
    result = redactor.redact(
        words, speaker=str(utterance.speaker), start=utterance.start, end=utterance.end, final=utterance.final
    )
    masked = set(result.masked)
    new_words = tuple(
        dataclasses.replace(w, text="[number]") if i in masked else w for i, w in enumerate(utterance.words)
    )
    return dataclasses.replace(utterance, text=result.text, words=new_words)


def print_summary(analysis: CallAnalysis, ruleset: RuleSet, out: TextIO, transcript: bool = False) -> None:
    """The report as text: verdict, findings (severity, time, rule, redacted evidence), rule items."""
    report = analysis.report
    verdict = "PASS" if report["passed"] else "FAIL"
    auto = f" (auto-fail: {', '.join(report['auto_fail_rules'])})" if report["auto_failed"] else ""
    print(f"call {report['call_id']}: score {report['score']} / 100 — {verdict}{auto}", file=out)
    if transcript:
        print("\ntranscript (redacted):", file=out)
        for line in analysis.transcript:
            print(f"  [{line.start:6.1f}–{line.end:6.1f}] {line.speaker.value:>8}: {line.text}", file=out)
    shown = [f for f in analysis.findings if f.outcome not in QUIET_OUTCOMES]
    print(f"\nfindings ({len(shown)}):", file=out)
    for f in shown:
        said = f' {f.speaker.value}: "{f.evidence}"' if f.evidence else ""
        print(f"  {f.start:7.1f}s {f.severity.value.upper():<8} {f.rule_id} → {f.outcome}{said}", file=out)
        print(f"           {f.reason}", file=out)
    print("\nrules:", file=out)
    for item in report["items"]:
        mark = STATUS_MARK.get(item["status"], item["status"])
        points = f"{item['points']:g}/{item['possible']:g}"
        print(f"  {mark} {item['rule_id']:<28} {points:>7}  {item['summary']}", file=out)
