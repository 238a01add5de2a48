"""The `callwarden` command line: one entry point whose subcommands live in their own modules."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from monitor.native import stale_message
from monitor.native import status as native_status
from streams.models import ModelError

# Each module exposes add_parser(subparsers) which sets `func` (args -> exit code) on its parser(s).
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "monitor.cli.model",
    "monitor.cli.transcribe",
    "monitor.cli.analyze",
    "monitor.cli.rules",
    "monitor.cli.serve",
    "monitor.cli.demo",
    "monitor.cli.corpus",
    "monitor.cli.eval",
    "monitor.cli.gdpr",
    "monitor.cli.backtest",
    "monitor.cli.export",
    "monitor.cli.keys",
    "monitor.cli.db",
    "monitor.cli.hash_secret",
    "monitor.cli.users",
    "monitor.cli.native",
)


def build_parser(modules: Sequence[str] = SUBCOMMAND_MODULES) -> argparse.ArgumentParser:
    """The argument parser with the subcommands of `modules` (default: all) whose module is installed."""
    parser = argparse.ArgumentParser(
        prog="callwarden",
        description="Real-time compliance monitoring of call audio: transcribe, check rules, alert, score.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors that users can fix print one clear line and exit non-zero."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["native"]:  # only the native group: it must work whatever state rules/ is in
        parser = build_parser(("monitor.cli.native",))
    else:
        current = native_status()  # before any subcommand module imports a stale compiled rules/
        if current.state == "stale":
            print(f"callwarden: {stale_message(current)}", file=sys.stderr)
            return 2
        parser = build_parser()
    args = parser.parse_args(words)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code: int = func(args)
    except ModelError as exc:
        print(f"callwarden: model error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
