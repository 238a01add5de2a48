"""CLI: `callwarden export --since --until --out DIR`: every stored call of a date range for an auditor (CSV + HTML)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from monitor.cli.backtest import _when
from monitor.cli.gdpr import CliError, actor, add_store_options, open_store
from monitor.export.bulk import bulk_export
from monitor.store.crypto import DataKeyError
from monitor.store.records import StoreError


def add_parser(subparsers: Any) -> None:
    """Register `export` (sets func=run)."""
    parser = subparsers.add_parser(
        "export",
        help="export the stored calls of a date range for an auditor: CSV and a printable HTML report per call",
        description=(
            "Write into DIR: calls.csv (one row per call: times, agent, queue, status, score, verdict, rules failed), "
            "findings.csv (every finding with its redacted evidence and acknowledgements), calls/<id>.html (the "
            "stored report, findings, consent and redacted transcript of one call, printable to PDF), index.html "
            "and manifest.json (SHA-256 of every file). The export is audited."
        ),
    )
    parser.add_argument("--since", type=_when, required=True, help="calls started at or after (ISO date/time, UTC)")
    parser.add_argument("--until", type=_when, required=True, help="calls started before (ISO date/time, UTC)")
    parser.add_argument("--agent", help="only calls of this agent")
    parser.add_argument("--queue", help="only calls of this queue (call metadata `queue`)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write (created)")
    add_store_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """0 when written, 2 on unusable input."""
    if args.since >= args.until:
        print("callwarden export: --since must be before --until", file=sys.stderr)
        return 2
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        print(f"callwarden export: --out {args.out} exists and is not an empty directory", file=sys.stderr)
        return 2
    try:
        with open_store(args) as (_, store):
            done = bulk_export(store, args.out, since=args.since, until=args.until, agent=args.agent, queue=args.queue)
            detail = {"calls": done.calls, "findings": done.findings, "since": args.since, "until": args.until}
            store.audit(actor(), "bulk_export", source="cli", detail=detail)
    except (CliError, StoreError, DataKeyError, OSError) as exc:
        print(f"callwarden export: {exc}", file=sys.stderr)
        return 2
    print(f"exported {done.calls} calls and {done.findings} findings to {args.out} (manifest.json lists SHA-256s)")
    return 0
