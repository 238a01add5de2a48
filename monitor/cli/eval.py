"""`callwarden eval DIR`: a labelled corpus through the live path and the rules → per-rule precision/recall/F1."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from evaluation.corpus_labels import LabelsError
from evaluation.run import CallEvaluation, CorpusEvaluation, evaluate_corpus, load_corpus
from evaluation.scoring import RuleScore, recall_by, total_score
from monitor.cli.options import add_model_options, asr_config
from rules.packs import PackError, load_packs
from streams.audiofile import AudioFileError

BREAKDOWN_KEYS = ("digit_speaker", "snr_db", "noise", "customer_voice", "agent_voice")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `eval` (sets func=run)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "eval",
        help="measure detection accuracy on a labelled corpus (per-rule precision, recall, F1, time error)",
        description=(
            "Run every labelled call in DIR (NAME.json labels + audio, docs/corpus.md; make one with "
            "`callwarden corpus generate`) through exactly the live path (per-leg Vosk transcription) and the "
            "rules engine, match the findings against the labels and print per (rule, outcome): true/false "
            "positives, false negatives, precision, recall, F1 and the detection-time error |found − labelled "
            "time|. Misses and false alarms are listed with the redacted transcript. Exit 0 when evaluated, 2 "
            "on unusable input."
        ),
    )
    parser.add_argument("directory", type=Path, metavar="DIR", help="directory of labelled calls")
    parser.add_argument("--rules", type=Path, help="a directory of extra *.yaml rule packs")
    parser.add_argument("--no-builtin", action="store_true", help="ignore the built-in packs")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--json-out", type=Path, metavar="FILE", help="also write the JSON results to FILE")
    parser.add_argument("--workers", type=int, default=1, help="calls analysed at once (decoding threads; default 1)")
    parser.add_argument("--quiet", action="store_true", help="no per-call progress on stderr")
    add_model_options(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Evaluate args.directory; 0 when evaluated, 2 on unusable input (labels, audio, packs, workers)."""
    out, err = out or sys.stdout, err or sys.stderr
    if args.workers < 1:
        print(f"callwarden eval: --workers must be at least 1, got {args.workers}", file=err)
        return 2
    if args.json_out is not None and not args.json_out.parent.is_dir():
        print(f"callwarden eval: --json-out {args.json_out}: directory {args.json_out.parent} does not exist", file=err)
        return 2
    if args.rules is not None and not args.rules.is_dir():
        print(f"callwarden eval: --rules {args.rules} is not a directory of *.yaml rule packs", file=err)
        return 2
    try:
        corpus = load_corpus(args.directory)
        ruleset = load_packs([args.rules] if args.rules else [], builtin=not args.no_builtin)
    except (LabelsError, PackError) as exc:
        print(f"callwarden eval: {exc}", file=err)
        return 2
    if not ruleset.rules:
        print("callwarden eval: no rules loaded (--no-builtin without --rules DIR holding packs)", file=err)
        return 2

    def progress(call: CallEvaluation, done: int, total: int) -> None:
        if not args.quiet:
            s = call.score
            counts = f"{len(s.hits)} TP {len(s.false_alarms)} FP {len(s.misses)} FN"
            print(f"[{done}/{total}] {call.labels.scenario}: {counts}", file=err, flush=True)

    try:
        result = evaluate_corpus(
            corpus, ruleset, asr_config(args), args.workers, progress
        )
    except AudioFileError as exc:
        print(f"callwarden eval: {exc}", file=err)
        return 2
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result_json(result, args.directory), indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result_json(result, args.directory), ensure_ascii=False), file=out)
    else:
        print_result(result, args.directory, out, markdown=args.markdown)
    return 0


def result_json(result: CorpusEvaluation, directory: Path) -> dict[str, Any]:
    """The whole evaluation as JSON (no digits: redacted transcripts and counts only)."""
    return {
        "corpus": str(directory),
        "calls": len(result.calls),
        "audio_seconds": round(result.audio_seconds, 1),
        "wall_seconds": round(result.wall_seconds, 1),
        "workers": result.workers,
        "rules": [r.to_json() for r in result.rules],
        "total": total_score(result.rules).to_json(),
        "recall_by": _breakdowns(result),
        "card_readings": card_summary(result),
        "per_call": [c.to_json() for c in result.calls],
    }


def card_summary(result: CorpusEvaluation) -> dict[str, Any]:
    """Card readings: how many got any pci alert, pan_detected, and which pass decided (counts only)."""
    cards = [card for call in result.calls for card in call.cards]
    decided: dict[str, int] = {}
    for card in cards:
        if card.decided_by:
            decided[card.decided_by] = decided.get(card.decided_by, 0) + 1
    return {
        "readings": len(cards),
        "any_pci_alert": sum(card.any_alert for card in cards),
        "pan_detected": sum(card.pan_detected for card in cards),
        "decided_by": dict(sorted(decided.items())),
    }


def _distance(value: int | None) -> str:
    return "—" if value is None else str(value)


def _breakdowns(result: CorpusEvaluation) -> dict[str, dict[str, dict[str, list[int]]]]:
    scored = [(c.labels.conditions, c.score) for c in result.calls]
    table: dict[str, dict[str, dict[str, list[int]]]] = {}
    for rule in result.rules:
        if rule.true_positives + rule.false_negatives == 0:
            continue
        name = f"{rule.rule_id} {rule.outcome}"
        for key in BREAKDOWN_KEYS:
            cells = recall_by(scored, rule.rule_id, rule.outcome, key)
            if set(cells) - {"?"}:
                table.setdefault(name, {})[key] = {value: [hit, total] for value, (hit, total) in cells.items()}
    return table


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def score_rows(scores: Sequence[RuleScore]) -> list[list[str]]:
    """Table cells: rule, outcome, TP, FP, FN, precision, recall, F1, mean / median time error (s)."""
    return [
        [
            s.rule_id,
            s.outcome,
            str(s.true_positives),
            str(s.false_positives),
            str(s.false_negatives),
            _rate(s.precision),
            _rate(s.recall),
            _rate(s.f1),
            f"{_seconds(s.mean_time_error)} / {_seconds(s.median_time_error)}",
        ]
        for s in [*scores, total_score(scores)]
    ]


HEADER = ["rule", "outcome", "TP", "FP", "FN", "precision", "recall", "F1", "time err mean / median (s)"]


def format_table(rows: list[list[str]], markdown: bool) -> list[str]:
    """Rows as aligned text columns or a Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * 2 + "---:|" * (len(HEADER) - 2)]
        return lines + ["| " + " | ".join(row) + " |" for row in rows]
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True)))
        for r in [HEADER, *rows]
    ]


def print_result(result: CorpusEvaluation, directory: Path, out: TextIO, markdown: bool = False) -> None:
    """Per-rule table, recall by condition for rules with misses, then each miss and false alarm (redacted)."""
    print(
        f"corpus {directory}: {len(result.calls)} calls, {result.audio_seconds:.0f} s of audio, "
        f"analysed in {result.wall_seconds:.0f} s wall ({result.workers} worker(s))\n",
        file=out,
    )
    for line in format_table(score_rows(result.rules), markdown):
        print(line, file=out)
    breakdowns = _breakdowns(result)
    missed = {f"{r.rule_id} {r.outcome}" for r in result.rules if r.false_negatives}
    if missed:
        print("\nrecall by condition (rules with misses):", file=out)
    for name in sorted(missed):
        for key, cells in breakdowns.get(name, {}).items():
            shown = ", ".join(f"{value} {hit}/{total}" for value, (hit, total) in cells.items())
            print(f"  {name} by {key}: {shown}", file=out)
    _print_cards(result, out)
    problems = [c for c in result.calls if c.misses or c.false_alarms]
    print(f"\ncalls with misses or false alarms: {len(problems)}/{len(result.calls)}", file=out)
    for call in problems:
        print(f"  {call.labels.scenario} {_conditions(call)}", file=out)
        for miss in call.misses:
            verdict = f" [{miss.digits.verdict()}]" if miss.digits else ""
            print(f"    MISS {miss.expected.describe()}{verdict}: «{miss.transcript}»", file=out)
        for alarm in call.false_alarms:
            f = alarm.found
            print(f"    FALSE {f.rule_id} {f.outcome} ({f.speaker}) @{f.start:.1f}s: «{alarm.transcript}»", file=out)


def _print_cards(result: CorpusEvaluation, out: TextIO) -> None:
    """Per card reading: digit edit distance to the truth of each pass (first pass strict / with homophones, digit
    pass), and what came of it — a miss is acoustic when no pass heard the digits, else logical."""
    summary = card_summary(result)
    total = summary["readings"]
    if not total:
        return
    decided = ", ".join(f"{name} {count}" for name, count in summary["decided_by"].items()) or "none"
    print(
        f"\ncard readings: {total}; any pci alert {summary['any_pci_alert']}/{total}, "
        f"pan_detected {summary['pan_detected']}/{total} (decided by: {decided})",
        file=out,
    )
    print("  call: first pass edits (strict/homophones), digit pass edits → outcome", file=out)
    for call in result.calls:
        for card in call.cards:
            d = card.digits
            heard = f"{d.strict_distance}/{d.homophone_distance}, {_distance(d.digit_pass_distance)}" if d else "?"
            outcome = f"pan_detected ({card.decided_by})" if card.pan_detected else (
                "other pci alert" if card.any_alert else "no alert")
            print(f"  {call.labels.scenario} @{card.expected.start or 0:.1f}s: {heard} → {outcome}", file=out)


def _conditions(call: CallEvaluation) -> str:
    c = call.labels.conditions
    if not c:
        return ""
    noise = "clean" if c.get("snr_db") is None else f"{c.get('noise')} {c.get('snr_db'):g} dB"
    return (
        f"({c.get('customer_voice')}/{c.get('agent_voice')}, digits {c.get('digit_speaker')}, {noise}, "
        f"{c.get('codec')})"
    )
