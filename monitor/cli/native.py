"""`callwarden native status|build|clean`: the mypyc-compiled rules engine (see monitor/native.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from monitor.native import NativeBuildError, build, clean, loaded_build, stale_message, status


def add_parser(subparsers: Any) -> None:
    """Register the `native` subcommand group."""
    native = subparsers.add_parser("native", help="build, check or remove the compiled (mypyc) rules engine")
    actions = native.add_subparsers(dest="native_command", metavar="ACTION", required=True)
    show = actions.add_parser("status", help="pure, compiled or stale (exit 0, 0, 1)")
    show.set_defaults(func=run_status)
    make = actions.add_parser("build", help="compile rules/ with mypyc unless the build is fresh (needs gcc)")
    make.add_argument("--force", action="store_true", help="rebuild even when fresh")
    make.add_argument("--jobs", type=int, default=2, help="parallel C compiles (default 2)")
    make.add_argument("--optional", action="store_true",
                      help="when it cannot be built (no compiler, no mypyc), warn and exit 0: stay pure Python")
    make.set_defaults(func=run_build)
    remove = actions.add_parser("clean", help="remove the compiled modules: rules/ runs as pure Python")
    remove.set_defaults(func=run_clean)


def run_status(args: argparse.Namespace) -> int:
    """Print the build state of rules/ and what this process loaded."""
    current = status()
    print(f"{current.state}: {current.detail}")
    if current.state == "stale":
        print(stale_message(current), file=sys.stderr)
        return 1
    print(f"this process runs the {loaded_build()} engine")
    return 0


def run_build(args: argparse.Namespace) -> int:
    """Build (or keep) the compiled engine; a failure is one clear message (exit 1, or 0 with --optional)."""
    before = status().state
    try:
        current = build(jobs=max(1, args.jobs), force=args.force)
    except NativeBuildError as exc:
        print(f"callwarden native build: {exc}", file=sys.stderr)
        if args.optional:
            if clean():
                print("callwarden native build: removed the stale compiled modules", file=sys.stderr)
            print("callwarden native build: the rules engine runs as pure Python (about half as fast)",
                  file=sys.stderr)
            return 0
        return 1
    verb = "is up to date" if before == "compiled" and not args.force else "built"
    print(f"compiled rules engine {verb}: {current.detail}")
    return 0


def run_clean(args: argparse.Namespace) -> int:
    """Remove the compiled modules."""
    print(f"removed {clean()} files; rules/ runs as pure Python")
    return 0
