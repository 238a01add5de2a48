"""Detection on synthesized calls: render the labelled corpus, `callwarden analyze` each call, print a Markdown table.

Usage: .venv/bin/python bench/detection.py [--keep DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from evaluation.analyze import CallAnalysis, TranscriptLine, analyze_files
from evaluation.corpus import write_corpus
from evaluation.corpus_labels import CallLabels, LabelCheck, check_findings, load_labels
from rules.packs import load_packs


def _snippet(lines: tuple[TranscriptLine, ...], check: LabelCheck, width: int = 160) -> str:
    """The redacted transcript near the expected time (or the whole call, shortened)."""
    e = check.expected
    near = [
        line
        for line in lines
        if e.start is None or (line.end >= e.start - 4.0 and line.start <= (e.end or e.start) + 4.0)
    ]
    text = " / ".join(f"{line.speaker.value[0].upper()}: {line.text}" for line in near or lines)
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(labels: CallLabels, analysis: CallAnalysis) -> tuple[str, bool]:
    checks = check_findings(labels, analysis.report["findings"])
    ok = all(c.passed for c in checks)
    expected = "; ".join(c.expected.describe() for c in checks)
    got = "; ".join(sorted({g for c in checks for g in c.got if not g.startswith(("no_sensitive_numbers", "absent"))}))
    failed = [c for c in checks if not c.passed]
    why = " ".join(f"✗ {c.expected.describe()}: «{_snippet(analysis.transcript, c)}»" for c in failed)
    cells = [labels.scenario, expected, got or "—", "PASS" if ok else "FAIL", why.replace("|", "/")]
    return "| " + " | ".join(cells) + " |", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", type=Path, help="render the corpus into this directory (else a temporary one)")
    parser.add_argument("--only", nargs="*", default=(), help="scenario names to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="callwarden-corpus-") as tmp:
        directory = args.keep or Path(tmp)
        labels = [load_labels(p) for p in write_corpus(directory, names=args.only)]
        began = time.perf_counter()
        audio_paths = [directory / label.audio for label in labels]
        analyses = analyze_files(audio_paths, load_packs(), agent_channel=0)
        elapsed = time.perf_counter() - began
    rows = [_row(label, analysis) for label, analysis in zip(labels, analyses, strict=True)]
    print("| scenario | expected | got | result | transcript when failed (redacted) |")
    print("|---|---|---|---|---|")
    for row, _ok in rows:
        print(row)
    passed = sum(ok for _row_text, ok in rows)
    audio = sum(label.duration for label in labels)
    print(f"\n{passed}/{len(rows)} scenarios pass; {audio:.0f} s of audio analysed in {elapsed:.0f} s wall time.")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
