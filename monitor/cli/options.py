"""Command-line options shared by the subcommands that run the speech model."""

from __future__ import annotations

import argparse


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model and --lang: which Vosk model recognizes the audio."""
    parser.add_argument("--model", default=None, help="Vosk model directory (default: $CALLWARDEN_MODEL or cache)")
    parser.add_argument("--lang", default="en-us", help="model language (default en-us)")
