"""Issue #15 acceptance 2: real FSDD voices read test cards in short calls through the live path (both recognizer
passes, the rules); per-speaker floors measured on the held-out half of the FSDD material (recordings 3-4; the
digit pass was tuned on 0-2). The figures per speaker are in BENCHMARKS.md ("Card readings by real voices")."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.card_readings import TEST_TAKES, build_calls, per_speaker, run_calls
from rules.packs import load_packs

# speaker → (pan_detected, any pci alert) of 4 readings on the held-out half. Measured 2026-12-03 (BENCHMARKS.md):
# george 3/4, jackson 4/4, lucas 3/4, nicolas 3/4, theo 0/1, yweweler 2/4 — 15 and 21 of 24; with the digit pass
# off the same calls gave 7 and 13 of 24 (george 2/4, jackson 2/4, lucas 3/3, nicolas 0/2, theo 0/0, yweweler 0/0),
# which fails these floors. Vosk varies run to run (vosk-api #868): each floor is the measured figure less one
# reading (where it was at least one), the totals less two.
FLOORS = {
    "george": (2, 3),
    "jackson": (3, 3),
    "lucas": (2, 3),
    "nicolas": (2, 3),
    "theo": (0, 0),
    "yweweler": (1, 3),
}
TOTAL_FLOOR = (13, 19)
LUHN_FAILING = ("4111111111111112", "5555555555554449")  # test cards with the check digit changed


@pytest.mark.slow
def test_card_readings_by_real_voices_meet_the_per_speaker_floors(shared_data: Path) -> None:
    calls = build_calls(takes=TEST_TAKES, fsdd=shared_data / "audio" / "fsdd")
    results, _wall = run_calls(calls, load_packs())
    table = per_speaker(results)
    shortfalls = {
        speaker: (table[speaker], floor)
        for speaker, floor in FLOORS.items()
        if table[speaker][1] < floor[0] or table[speaker][2] < floor[1]
    }
    assert not shortfalls, f"(readings, pan_detected, any alert) vs floor (pan, alert): {shortfalls}; all: {table}"
    totals = (sum(r.pan_detected for r in results), sum(r.any_alert for r in results))
    assert totals[0] >= TOTAL_FLOOR[0] and totals[1] >= TOTAL_FLOOR[1], (totals, table)
    assert any(r.decided_by == "digits" for r in results)  # the digit pass recovers readings the first pass lost
    # it heard digits in (nearly) every reading: 21 of 24 measured; theo's in noise came out as "[unk]" only
    silent = [r.name for r in results if r.digit_distance is None]
    assert len(silent) <= 5, silent


@pytest.mark.slow
def test_luhn_failing_readings_by_real_voices_are_never_a_card(shared_data: Path) -> None:
    calls = build_calls(cards=LUHN_FAILING, takes=TEST_TAKES, fsdd=shared_data / "audio" / "fsdd")
    results, _wall = run_calls(calls, load_packs())
    assert [r.name for r in results if r.pan_detected] == []
