"""Command-line options shared by the subcommands that run the speech model."""

from __future__ import annotations

import argparse

from streams.transcriber import AsrConfig
from streams.vad import VAD_ENGINES, gate_config

DEFAULT_VAD = "off"
"""The voice-activity gate the model-running subcommands use unless told (the service's asr_vad default)."""


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model and --lang: which Vosk model recognizes the audio."""
    parser.add_argument("--model", default=None, help="Vosk model directory (default: $CALLWARDEN_MODEL or cache)")
    parser.add_argument("--lang", default="en-us", help="model language (default en-us)")
    parser.add_argument(
        "--vad",
        choices=("off", *VAD_ENGINES),
        default=DEFAULT_VAD,
        help=f"voice-activity gating before the recognizer, as the service's asr_vad (default {DEFAULT_VAD})",
    )
    parser.add_argument(
        "--recycle-seconds",
        type=float,
        default=AsrConfig().recycle_seconds or 0.0,
        metavar="S",
        help="swap a leg's recognizer for a fresh one at an utterance end after S s of decoded audio (0: never; "
        "bounds its memory)",
    )


def asr_config(args: argparse.Namespace) -> AsrConfig:
    """The recognizer settings named by --model, --lang, --vad and --recycle-seconds."""
    recycle = args.recycle_seconds or None
    return AsrConfig(language=args.lang, model_path=args.model, gate=gate_config(args.vad), recycle_seconds=recycle)
