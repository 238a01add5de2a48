"""`callwarden corpus generate|scenarios DIR`: write labelled calls (audio + labels JSON) for `callwarden eval`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from evaluation.corpus import DEFAULT_FSDD, write_corpus
from evaluation.corpus_gen import (
    DEFAULT_SNRS,
    DEFAULT_TEST_PANS,
    GeneratorOptions,
    describe_corpus,
    write_generated_corpus,
)
from evaluation.corpus_labels import load_labels
from evaluation.synth import FSDD_SPEAKERS, SynthError


def _snrs(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--snr takes comma-separated dB values such as 0,30,20, got {text!r}"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"--snr values must be dB >= 0 (0 = clean), got {text!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `corpus` with `generate` and `scenarios` (each sets func)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "corpus", help="write labelled synthetic calls for `callwarden eval`", description=__doc__
    )
    commands = parser.add_subparsers(dest="corpus_command", metavar="COMMAND", required=True)
    gen = commands.add_parser(
        "generate",
        help="a varied development corpus (voices, speeds, noise, mu-law, real spoken digits), deterministic per seed",
        description=(
            "Write --calls labelled calls NNN-KIND.wav + NNN-KIND.json into DIR (docs/corpus.md). Calls cycle "
            "through card readings (public test cards), read-backs, Luhn-failing near misses, security codes, "
            "phone numbers, compliant calls, missing/late disclosures and refused/withdrawn consent; each draws "
            "espeak-ng voices and speeds, a noise level and an FSDD digit speaker from the seed."
        ),
    )
    gen.add_argument("directory", type=Path, metavar="DIR")
    gen.add_argument("--calls", type=int, default=48, help="number of calls (default 48)")
    gen.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    gen.add_argument("--first", type=int, default=0, help="index of the first call (default 0)")
    default_snr = ",".join(f"{s:g}" for s in DEFAULT_SNRS)
    gen.add_argument(
        "--snr", type=_snrs, default=DEFAULT_SNRS, help=f"noise SNRs in dB, 0 = clean (default {default_snr})"
    )
    gen.add_argument("--no-mulaw", action="store_true", help="skip the 8 kHz mu-law round trip")
    gen.add_argument(
        "--digit-speakers",
        type=_names,
        default=FSDD_SPEAKERS,
        help=f"FSDD speakers (default {','.join(FSDD_SPEAKERS)})",
    )
    gen.add_argument("--fsdd", type=Path, default=DEFAULT_FSDD, help="FSDD recordings (../shared/data/audio/fsdd)")
    gen.add_argument("--test-pans", type=Path, default=DEFAULT_TEST_PANS, help="test cards TSV (shared data)")
    gen.set_defaults(func=run_generate)
    fixed = commands.add_parser("scenarios", help="the fixed named scenarios of evaluation/corpus.py")
    fixed.add_argument("directory", type=Path, metavar="DIR")
    fixed.add_argument("--only", type=_names, default=(), help="comma-separated scenario names")
    fixed.add_argument("--fsdd", type=Path, default=DEFAULT_FSDD, help="FSDD recordings (../shared/data/audio/fsdd)")
    fixed.set_defaults(func=run_scenarios)
    return parser


def run_generate(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Generate the corpus; 0 on success, 2 on bad options or missing shared data/tools."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        options = GeneratorOptions(
            snrs=args.snr,
            mulaw=not args.no_mulaw,
            digit_speakers=args.digit_speakers,
            fsdd_dir=args.fsdd,
            test_pans=args.test_pans,
        )
        paths = write_generated_corpus(args.directory, args.calls, args.seed, options, first=args.first)
    except (ValueError, SynthError) as exc:
        print(f"callwarden corpus generate: {exc}", file=err)
        return 2
    summary = describe_corpus([load_labels(p) for p in paths])
    print(f"wrote {summary['calls']} calls ({summary['audio_seconds']:.0f} s of audio) to {args.directory}", file=out)
    for key, counts in summary["counts"].items():
        print(f"  {key}: " + ", ".join(f"{value} {n}" for value, n in sorted(counts.items())), file=out)
    return 0


def run_scenarios(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Write the fixed scenarios; 0 on success, 2 on unknown names or missing data/tools."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        paths = write_corpus(args.directory, args.fsdd, names=args.only)
    except (ValueError, SynthError) as exc:
        print(f"callwarden corpus scenarios: {exc}", file=err)
        return 2
    print(f"wrote {len(paths)} scenarios to {args.directory}", file=out)
    return 0
