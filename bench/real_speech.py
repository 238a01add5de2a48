"""Benchmark (not a test): every high or critical finding the rules raise on real recordings, for a person to judge.

Each recording under ../shared/data/audio (the acted auto-repair call, the LibriVox clips, JFK, the Vosk digit
reading, the short fixtures; the single FSDD digits are left out) goes through `callwarden analyze`'s path
(evaluation.analyze.analyze_files: per-leg Vosk, then the rules engine). A mono recording is one leg, heard as the
agent; its events are then replayed with the speaker swapped, so the customer-side rules hear it too.
Prints one line per high/critical finding (file, heard as, rule, outcome, time, redacted evidence) and a count.
Run: .venv/bin/python bench/real_speech.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluation.analyze import analyze_files  # noqa: E402
from rules.engine import CallMonitor  # noqa: E402
from rules.events import Event, Speaker, Utterance  # noqa: E402
from rules.findings import Finding, Severity  # noqa: E402
from rules.packs import load_packs  # noqa: E402

AUDIO = REPO.parent / "shared" / "data" / "audio"
SERIOUS = (Severity.HIGH, Severity.CRITICAL)
_SWAP = {Speaker.AGENT: Speaker.CUSTOMER, Speaker.CUSTOMER: Speaker.AGENT}


def recordings(root: Path = AUDIO) -> list[Path]:
    """The real recordings to analyse (FSDD single digits excluded)."""
    found = [p for p in sorted(root.rglob("*")) if p.suffix in (".wav", ".flac") and "fsdd" not in p.parts]
    if not found:
        raise SystemExit(f"no recordings under {root}: is ../shared/data/audio beside the repository?")
    return found


def swapped(events: list[Event]) -> list[Event]:
    """The same call with agent and customer exchanged."""
    return [replace(e, speaker=_SWAP.get(e.speaker, e.speaker)) if isinstance(e, Utterance) else e for e in events]


def replayed(events: list[Event], call_id: str) -> list[Finding]:
    monitor = CallMonitor(load_packs().rules, call_id=call_id)
    return [f for e in events for f in monitor.feed(e)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = recordings()
    analyses = analyze_files(paths, load_packs(), agent_channel=0)
    rows: list[dict[str, object]] = []
    for path, analysis in zip(paths, analyses, strict=True):
        for heard_as, findings in (
            ("as recorded", replayed(analysis.events, path.stem)),
            ("speakers swapped", replayed(swapped(analysis.events), path.stem)),
        ):
            for f in findings:
                if f.severity in SERIOUS:
                    rows.append({"file": str(path.relative_to(AUDIO)), "heard_as": heard_as, "rule": f.rule_id,
                                 "outcome": f.outcome, "severity": str(f.severity), "start": round(f.start, 1),
                                 "speaker": str(f.speaker), "evidence": f.evidence, "reason": f.reason})
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['file']} [{r['heard_as']}] {r['severity']} {r['rule']} {r['outcome']} @{r['start']}s "
                  f"({r['speaker']}): {r['evidence']!r}")
        print(f"{len(paths)} recordings, {len(rows)} high/critical findings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
