"""Paraphrase benchmark (not a test): precision and recall of each intent, per language and split, via the engine.

Each row of bench/paraphrase/data/<intent>.<lang>.tsv is said by the intent's speaker in a scripted call that
runs through CallMonitor with the rules that detect that intent (partials every 3 words, as in pack examples):
  disclosure          agent says it                               → disclosure.recording `said`
  consent_question    agent says it, customer answers "yes …"     → consent.recording opens a window (any verdict)
  consent_withdrawal  agent asks how to help, customer says it    → `consent_withdrawn` (consent or gdpr rule)
  do_not_call         the same                                    → gdpr.do-not-contact `do_not_contact`
  erasure / access    the same                                    → `erasure_requested` / `access_requested`
  threat / guaranteed_returns  agent says it                      → conduct.* `forbidden_said`
Usage: python bench/paraphrase/run.py [--split dev|test|all] [--rules DIR --no-builtin] [--errors] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rules.engine import CallMonitor
from rules.model import RuleSpec
from rules.packs import RuleSet, load_packs
from rules.transcripts import transcript_events

DATA = Path(__file__).resolve().parent / "data"
EXTRA = Path(__file__).resolve().parent / "extra"
"""More independently written sets (extra/<intent>.<lang>[.<set>].tsv); their rows count as dev, except the held-out
sets, written after the last tuning and never tuned on (scored with --extra-set; see README.md)."""
HELD_OUT_SETS = frozenset({"5", "8", "10"})
WINDOW_OUTCOMES = ("consent_given", "consent_refused", "consent_unclear")
ANSWER = {"en": "customer: yes that's fine", "it": "customer: sì va bene"}
OPENER = {"en": "agent: how can I help you today", "it": "agent: come posso aiutarla oggi"}


@dataclass(frozen=True, slots=True)
class Detector:
    """How one intent is detected: the speaker who says it and the (rule, outcome) pairs that count."""

    speaker: str
    fires: tuple[tuple[str, tuple[str, ...]], ...]


def detectors(rules: RuleSet) -> dict[str, Detector]:
    """Intent → detector; a rule set without gdpr.do-not-contact (the round-start packs) detects do-not-call
    requests with gdpr.consent-withdrawal, the rule that held "stop contacting me" then."""
    ids = {spec.id for spec in rules.rules}
    dnc = ("gdpr.do-not-contact", ("do_not_contact",))
    if "gdpr.do-not-contact" not in ids:
        dnc = ("gdpr.consent-withdrawal", ("consent_withdrawn",))
    return {
        "disclosure": Detector("agent", (("disclosure.recording", ("said",)),)),
        "consent_question": Detector("agent", (("consent.recording", WINDOW_OUTCOMES),)),
        "consent_withdrawal": Detector(
            "customer",
            (("consent.recording", ("consent_withdrawn",)), ("gdpr.consent-withdrawal", ("consent_withdrawn",))),
        ),
        "do_not_call": Detector("customer", (dnc,)),
        "erasure": Detector("customer", (("gdpr.erasure-request", ("erasure_requested",)),)),
        "access": Detector("customer", (("gdpr.access-request", ("access_requested",)),)),
        "threat": Detector("agent", (("conduct.threats", ("forbidden_said",)),)),
        "guaranteed_returns": Detector("agent", (("conduct.guaranteed-returns", ("forbidden_said",)),)),
    }


@dataclass(frozen=True, slots=True)
class Row:
    """One benchmark sentence."""

    intent: str
    language: str
    split: str
    positive: bool
    text: str


def load_rows(data: Path = DATA, extra: Path = EXTRA) -> list[Row]:
    """Every row of every data file (comment lines skipped); rows of the extra set are all dev."""
    rows: list[Row] = []
    for path in sorted(extra.glob("*.tsv")):  # <intent>.<lang>.tsv or <intent>.<lang>.<set>.tsv
        intent, language = path.name.split(".")[:2]
        if len(path.name.split(".")) == 4 and path.name.split(".")[2] in HELD_OUT_SETS:
            continue
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        header = lines[0].split("\t")
        for line in lines[1:]:
            fields = dict(zip(header, line.split("\t"), strict=True))
            rows.append(Row(intent, language, "dev", fields["label"] == "pos", fields["text"]))
    for path in sorted(data.glob("*.tsv")):
        intent, language = path.stem.rsplit(".", 1)
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        header = lines[0].split("\t")
        if "split" not in header:
            print(f"{path.name}: no split column yet (run bench/paraphrase/split.py): skipped", file=sys.stderr)
            continue
        for line in lines[1:]:
            fields = dict(zip(header, line.split("\t"), strict=True))
            rows.append(Row(intent, language, fields["split"], fields["label"] == "pos", fields["text"]))
    return rows


def load_extra_set(name: str, extra: Path = EXTRA) -> list[Row]:
    """The rows of one extra set (extra/<intent>.<lang>.<name>.tsv), split named after it."""
    rows: list[Row] = []
    for path in sorted(extra.glob(f"*.*.{name}.tsv")):
        intent, language = path.name.split(".")[:2]
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
        header = lines[0].split("\t")
        for line in lines[1:]:
            fields = dict(zip(header, line.split("\t"), strict=True))
            rows.append(Row(intent, language, f"extra-{name}", fields["label"] == "pos", fields["text"]))
    return rows


def transcript(row: Row, detector: Detector) -> list[str]:
    """The scripted call that says `row`'s sentence as the intent's speaker."""
    said = f"{detector.speaker}: {row.text}"
    if row.intent == "consent_question":
        return [said, ANSWER.get(row.language, ANSWER["en"])]
    if detector.speaker == "customer":
        return [OPENER.get(row.language, OPENER["en"]), said]
    return [said]


def fires(row: Row, detector: Detector, specs: Sequence[RuleSpec]) -> bool:
    """Whether the intent's rules report it on the row's scripted call."""
    wanted = dict(detector.fires)
    monitor = CallMonitor(specs, call_id="paraphrase")
    for event in transcript_events("paraphrase", transcript(row, detector), row.language):
        for finding in monitor.feed(event):
            if finding.outcome in wanted.get(finding.rule_id, ()):
                return True
    return False


def evaluate(rules: RuleSet, rows: Sequence[Row]) -> tuple[dict[tuple[str, str], dict[str, int]], list[str]]:
    """Per (intent, language): tp, fp, fn, tn; and the misclassified rows as lines."""
    table: dict[tuple[str, str], dict[str, int]] = {}
    errors: list[str] = []
    by_id = {spec.id: spec for spec in rules.rules}
    for intent, detector in detectors(rules).items():
        specs = [by_id[rule_id] for rule_id, _ in detector.fires if rule_id in by_id]
        for row in (r for r in rows if r.intent == intent):
            fired = bool(specs) and fires(row, detector, specs)
            counts = table.setdefault((intent, row.language), {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
            key = ("tp" if fired else "fn") if row.positive else ("fp" if fired else "tn")
            counts[key] += 1
            if key in ("fp", "fn"):
                errors.append(f"{key.upper()} {intent}.{row.language} [{row.split}] {row.text}")
    return table, errors


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def report(table: dict[tuple[str, str], dict[str, int]]) -> list[dict[str, object]]:
    """One record per (intent, language) with precision, recall and F1."""
    out: list[dict[str, object]] = []
    for (intent, language), c in sorted(table.items()):
        precision, recall = _ratio(c["tp"], c["tp"] + c["fp"]), _ratio(c["tp"], c["tp"] + c["fn"])
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append({"intent": intent, "language": language, **c, "precision": round(precision, 3),
                    "recall": round(recall, 3), "f1": round(f1, 3)})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--rules", action="append", default=[], help="extra pack directory")
    parser.add_argument("--no-builtin", action="store_true", help="only the packs of --rules")
    parser.add_argument("--errors", action="store_true", help="list every misclassified row")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-extra", action="store_true", help="leave out the extra dev set (bench/paraphrase/extra)")
    parser.add_argument(
        "--extra-set", metavar="N", help="score only the extra set N (extra/*.N.tsv), e.g. one written after tuning"
    )
    args = parser.parse_args(argv)
    rules = load_packs(args.rules, builtin=not args.no_builtin)
    extra = Path("/nonexistent") if args.no_extra else EXTRA
    if args.extra_set:
        rows = load_extra_set(args.extra_set)
        args.split = f"extra set {args.extra_set}"
    else:
        rows = [r for r in load_rows(extra=extra) if args.split == "all" or r.split == args.split]
    table, errors = evaluate(rules, rows)
    records = report(table)
    if args.json:
        print(json.dumps({"split": args.split, "results": records}, indent=1))
    else:
        print(f"split: {args.split}  rows: {len(rows)}")
        print(f"{'intent':<20} {'lang':<4} {'pos':>4} {'neg':>4} {'P':>6} {'R':>6} {'F1':>6}")
        for r in records:
            pos, neg = int(r["tp"]) + int(r["fn"]), int(r["fp"]) + int(r["tn"])  # type: ignore[call-overload]
            print(f"{r['intent']:<20} {r['language']:<4} {pos:>4} {neg:>4} {r['precision']:>6} {r['recall']:>6} "
                  f"{r['f1']:>6}")
    if args.errors:
        print("\n".join(errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
