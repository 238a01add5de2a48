"""CLI: `callwarden backtest --rules DIR`: stored calls re-scored with candidate packs, diffed with their outcomes."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from monitor.backtest.runner import PackSource, Selection, backtest, markdown
from monitor.cli.gdpr import CliError, actor, add_store_options, open_store
from monitor.store.records import StoreError
from rules.packs import PackError


def add_parser(subparsers: Any) -> None:
    """Register `backtest` (sets func=run)."""
    parser = subparsers.add_parser(
        "backtest",
        help="re-score stored calls with candidate rule packs and show what would change",
        description=(
            "Replay the stored, redacted event log of every selected call through the service's packs with those "
            "of --rules DIR in place of the packs of the same id (new ids are added), and print per rule the "
            "calls newly failing, newly passing and unchanged against their stored outcomes. Card/CVV/SSN/bank "
            "rules cannot be recomputed (stored logs hold no digits): their stored verdicts are carried over and "
            "marked so. Exit 0 with no change, 1 when any outcome changed, 2 on unusable input."
        ),
    )
    parser.add_argument("--rules", type=Path, metavar="DIR", help="the candidate packs (*.yaml) replacing or adding")
    parser.add_argument("--no-builtin", action="store_true", help="without the built-in packs")
    parser.add_argument(
        "--pack", action="append", default=None, metavar="NAME",
        help="opt-in packs of the base set (repeatable; default: the `packs` setting of the config)",
    )
    parser.add_argument("--since", type=_when, help="calls started at or after (ISO date/time, UTC; or epoch s)")
    parser.add_argument("--until", type=_when, help="calls started before (ISO date/time, UTC; or epoch seconds)")
    parser.add_argument("--queue", help="only calls of this queue (call metadata `queue`)")
    parser.add_argument("--agent", help="only calls of this agent")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes re-scoring in parallel (default 1; at most the cores)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the diff as JSON")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the diff as Markdown")
    add_store_options(parser)
    parser.set_defaults(func=run)


def _when(text: str) -> float:
    """Epoch seconds of an ISO date or date-time (UTC unless it names a zone) or of a number of seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO date/time (2026-11-01, 2026-11-01T08:00) nor epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the backtest; 0 when nothing changed, 1 when outcomes changed, 2 on unusable input."""
    out, err = out or sys.stdout, err or sys.stderr
    problem = _check(args)
    if problem:
        print(f"callwarden backtest: {problem}", file=err)
        return 2
    try:
        with open_store(args) as (config, store):
            source = PackSource(
                args.rules,
                builtin=not args.no_builtin,
                optional=tuple(config.packs if args.pack is None else args.pack),
                base_dirs=tuple(config.rules_dirs),
            )
            selection = Selection(args.since, args.until, args.queue, args.agent)
            result = backtest(store, source, selection, workers=args.workers)
            detail = {"calls": result["calls"], "changed": len(result["changed_calls"]),
                      "rules_dir": str(args.rules) if args.rules else None}  # fmt: skip
            store.audit(actor(), "backtest", source="cli", detail=detail)
    except (CliError, StoreError, PackError) as exc:
        print(f"callwarden backtest: {exc}", file=err)
        return 2
    text = markdown(result)
    if args.json is not None:
        _write(args.json, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if args.markdown is not None:
        _write(args.markdown, text)
    print(text, file=out, end="")
    rate = result["calls_per_second"]
    print(
        f"callwarden backtest: {result['calls']} calls in {result['rescore_seconds']} s with {args.workers} "
        f"worker(s)" + (f" ({rate} calls/s)" if rate else ""),
        file=err,
    )
    return 1 if result["changed_calls"] else 0


def _check(args: argparse.Namespace) -> str:
    if args.rules is not None and not args.rules.is_dir():
        return f"--rules {args.rules} is not a directory of *.yaml rule packs"
    cores = os.cpu_count() or 1
    if not 1 <= args.workers <= max(cores, 1) * 4:
        return f"--workers {args.workers}: give 1..{cores * 4} (this machine has {cores} cores)"
    for name in ("json", "markdown"):
        path = getattr(args, name)
        if path is not None and not path.parent.is_dir():
            return f"--{name} {path}: directory {path.parent} does not exist"
    if args.since is not None and args.until is not None and args.since >= args.until:
        return "--since must be before --until"
    return ""


def _write(path: Path, text: str) -> None:
    """Owner-readable only: the diff names calls and agents' outcomes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
