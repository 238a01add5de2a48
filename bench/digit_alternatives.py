"""Vosk n-best on the digit grammar: would "the one Luhn-valid alternative" recover card readings, and at what cost?

Run: .venv/bin/python bench/digit_alternatives.py [--alternatives 10] [--takes dev|test] [--json out.json]
Decodes, with the digit pass's grammar (streams/digitpass.py) and `SetMaxAlternatives`, the customer leg of the
short card-reading calls of evaluation/card_readings.py (FSDD voices, line noise, mu-law), from 2 s before the
reading to 2 s after it, for two sets of 16-digit numbers read by every FSDD speaker:
- the four Luhn-valid test cards (`CARDS`): a recovery is a reading whose best hypothesis holds no PAN while exactly
  one PAN (rules.cards.find_pan, the rule's own windows) arises when one segment's best hypothesis is replaced by
  one of its alternatives, and that PAN is the card;
- Luhn-failing numbers (the test cards with the check digit changed, and random brand-prefixed numbers): any PAN
  picked that way is a false alarm, and so is a PAN picked on a valid card that is not that card.
It prints each reading and the totals. Figures are in BENCHMARKS.md ("Reconciliation: what was tried").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluation.card_readings import CARDS, DEV_TAKES, TEST_TAKES, build_calls  # noqa: E402
from rules.cards import find_pan  # noqa: E402
from rules.digit_readings import reading_digits  # noqa: E402
from rules.events import Word  # noqa: E402
from streams.digitpass import DIGIT_GRAMMAR  # noqa: E402
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model  # noqa: E402

LUHN_FAILING = ("4111111111111112", "5555555555554449", "6011111111111118", "5105105105105101",
                "3260181590830166", "4318609139099603", "4824628194821993", "3181909378657975")
"""The test cards with the check digit changed, then random brand-prefixed 16-digit numbers that fail Luhn."""


def pan_of(text: str) -> str | None:
    """The PAN the pci rule would accept in a digit-pass text ("[unk]" splits segments), or None."""
    digits, boundaries = reading_digits([Word(w, 0.0, 0.0, 1.0) for w in text.split()])
    match = find_pan(digits, boundaries)
    return match.digits if match else None


def decode(model: Any, pcm: bytes, alternatives: int) -> list[list[str]]:
    """Each segment's hypotheses (best first) for `pcm` (8 kHz s16le) under the digit grammar."""
    import vosk

    recognizer = vosk.KaldiRecognizer(model, 8000, json.dumps(list(DIGIT_GRAMMAR)))
    recognizer.SetMaxAlternatives(alternatives)
    results = []
    for start in range(0, len(pcm), 1600):
        if recognizer.AcceptWaveform(pcm[start : start + 1600]):
            results.append(json.loads(recognizer.Result()))
    results.append(json.loads(recognizer.FinalResult()))
    return [[alt["text"] for alt in r["alternatives"]] for r in results if r.get("alternatives")]


def picked(segments: list[list[str]]) -> tuple[str | None, set[str]]:
    """The best hypothesis's PAN, and the PANs that arise with one segment replaced by one of its alternatives."""
    best = [hyps[0] for hyps in segments]
    pans = set()
    for k, hyps in enumerate(segments):
        for alternative in hyps[1:]:
            pan = pan_of(" ".join([*best[:k], alternative, *best[k + 1 :]]))
            if pan:
                pans.add(pan)
    return pan_of(" ".join(best)), pans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alternatives", type=int, default=10)
    parser.add_argument("--takes", choices=("dev", "test"), default="dev")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    takes = DEV_TAKES if args.takes == "dev" else TEST_TAKES
    model, _rate = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    fsdd = REPO.parent / "shared" / "data" / "audio" / "fsdd"
    totals = {"valid": 0, "best_pan": 0, "recovered": 0, "wrong_pan_on_valid": 0,
              "failing": 0, "false_pan_on_failing": 0, "best_false_on_failing": 0}
    for numbers, valid in ((CARDS, True), (LUHN_FAILING, False)):
        for call in build_calls(cards=numbers, takes=takes, fsdd=fsdd):
            pcm = np.frombuffer(call.audio.data, dtype="<i2").reshape(-1, 2)[:, 1]
            window = pcm[max(0, round((call.reading_start - 2.0) * 8000)) : round((call.reading_end + 2.0) * 8000)]
            best, pans = picked(decode(model, window.tobytes(), args.alternatives))
            unique = best is None and len(pans) == 1
            if valid:
                totals["valid"] += 1
                totals["best_pan"] += best == call.card
                totals["recovered"] += unique and call.card in pans
                totals["wrong_pan_on_valid"] += unique and call.card not in pans
                outcome = "best" if best == call.card else ("recovered" if unique and call.card in pans else
                                                            ("WRONG PAN" if unique else ""))
            else:
                totals["failing"] += 1
                totals["best_false_on_failing"] += best is not None
                totals["false_pan_on_failing"] += unique
                outcome = "FALSE PAN" if unique or best else ""
            print(f"{call.name:12} {'valid' if valid else 'failing'} alternatives with a PAN: {len(pans)} {outcome}",
                  flush=True)
    print(json.dumps(totals))
    if args.json:
        args.json.write_text(json.dumps({"alternatives": args.alternatives, "takes": args.takes, **totals}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
