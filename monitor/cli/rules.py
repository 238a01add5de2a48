"""CLI: `callwarden rules test|check [DIR]` and `callwarden replay EVENTS.jsonl` (packs, examples, replays)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rules.engine import CallMonitor
from rules.eventlog import EventLogError, loads_events
from rules.events import Event
from rules.examples import run_examples
from rules.packs import PackError, RuleSet, load_packs


def add_parser(subparsers: Any) -> None:
    """Register `rules test`, `rules check` and `replay` on the top-level subparsers."""
    rules = subparsers.add_parser("rules", help="validate rule packs and run their examples")
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("test", run_rules_test, "run every positive and negative example of every rule"),
        ("check", run_rules_check, "validate the packs (schema, kinds, params, examples present)"),
    ):
        sub = rules_sub.add_parser(name, help=text, description=text)
        sub.add_argument("dir", nargs="?", type=Path, help="a directory of extra *.yaml packs")
        sub.add_argument("--no-builtin", action="store_true", help="ignore the built-in and opt-in packs")
        sub.add_argument(
            "--pack", action="append", default=None, metavar="NAME",
            help="only these opt-in packs (repeatable; default: every opt-in pack, see docs/packs.md)",
        )
        sub.set_defaults(func=func)
    replay = subparsers.add_parser("replay", help="replay a JSONL event log through the rules engine")
    replay.add_argument("events", type=Path, help="JSONL file, one event per line (rules.eventlog format)")
    replay.add_argument("--rules", type=Path, help="a directory of extra *.yaml packs")
    replay.add_argument("--no-builtin", action="store_true", help="ignore the built-in packs")
    replay.add_argument(
        "--pack", action="append", default=[], metavar="NAME",
        help="also load this opt-in pack (repeatable, 'all' for every one), as the `packs` setting does",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON report per call instead of text")
    replay.set_defaults(func=run_replay)


def _streams(out: TextIO | None, err: TextIO | None) -> tuple[TextIO, TextIO]:
    return out or sys.stdout, err or sys.stderr


def _load(directory: Path | None, no_builtin: bool, err: TextIO, optional: Sequence[str] = ()) -> RuleSet | None:
    try:
        return load_packs([directory] if directory else [], builtin=not no_builtin, optional=optional)
    except PackError as exc:
        print(f"callwarden: {exc}", file=err)
        return None


def _tested_optional(args: argparse.Namespace) -> list[str]:
    """The opt-in packs `rules test|check` covers: those named with --pack; else all, unless --no-builtin."""
    if args.pack is not None:
        return list(args.pack)
    return [] if args.no_builtin else ["all"]


def run_rules_check(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Validate packs; 0 when valid, 2 with every problem listed otherwise."""
    out, err = _streams(out, err)
    ruleset = _load(args.dir, args.no_builtin, err, _tested_optional(args))
    if ruleset is None:
        return 2
    for pack in ruleset.packs:
        print(f"{pack.id} {pack.version} ({len(pack.rules)} rules) {pack.source}", file=out)
    print(f"ok: {len(ruleset.packs)} packs, {len(ruleset.rules)} rules", file=out)
    return 0


def run_rules_test(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run all examples; 0 when all pass, 1 when any fails, 2 when packs are invalid."""
    out, err = _streams(out, err)
    ruleset = _load(args.dir, args.no_builtin, err, _tested_optional(args))
    if ruleset is None:
        return 2
    results = run_examples(ruleset)
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        detail = "" if result.passed else f": {result.message}"
        print(f"{mark} {result.rule_id} {result.polarity} {result.name!r}{detail}", file=out)
    failed = sum(1 for r in results if not r.passed)
    print(f"{len(results) - failed} passed, {failed} failed", file=out)
    return 1 if failed else 0


def replay_calls(events: Sequence[Event], ruleset: RuleSet) -> list[CallMonitor]:
    """One CallMonitor per call id (in order of first appearance), each fed its call's events in order."""
    monitors: dict[str, CallMonitor] = {}
    for event in events:
        monitor = monitors.setdefault(event.call_id, CallMonitor(ruleset, call_id=event.call_id))
        monitor.feed(event)
    return list(monitors.values())


def run_replay(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Replay an event log; print findings (or JSON reports). 0 on success, 2 on unreadable input."""
    out, err = _streams(out, err)
    ruleset = _load(args.rules, args.no_builtin, err, args.pack)
    if ruleset is None:
        return 2
    try:
        events = loads_events(args.events.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"callwarden: cannot read {args.events}: {exc}", file=err)
        return 2
    except EventLogError as exc:
        print(f"callwarden: {args.events}: {exc}", file=err)
        return 2
    for monitor in replay_calls(events, ruleset):
        report = monitor.report()
        if args.json:
            print(json.dumps(report, ensure_ascii=False, sort_keys=False), file=out)
            continue
        verdict = "PASS" if report["passed"] else "FAIL"
        print(f"call {report['call_id']}: score {report['score']} {verdict}", file=out)
        for finding in monitor.findings:
            print(
                f"  {finding.start:8.2f}s {finding.severity.value:<8} {finding.rule_id} {finding.outcome}: "
                f"{finding.reason}",
                file=out,
            )
    return 0
