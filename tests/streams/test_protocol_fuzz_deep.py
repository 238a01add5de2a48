"""Deep (slow) Hypothesis fuzzing of every protocol core: ≥ 10,000 generated frames per protocol in one run."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from tests.streams.test_protocol_fuzz import CANNED, CASES, Frame, frames, play

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CALLWARDEN_CORE_FUZZ_EXAMPLES", "2500"))
MIN_FRAMES = 10_000


@pytest.mark.parametrize("name", sorted(CASES))
def test_ten_thousand_random_frames_per_protocol(name: str) -> None:
    factory, shaped_text = CASES[name]
    fed = {"frames": 0, "sequences": 0, "closed": 0}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(frames(shaped_text, CANNED[name]))
    def run(sequence: list[Frame]) -> None:
        closed = play(factory(), sequence)
        fed["frames"] += len(sequence)
        fed["sequences"] += 1
        fed["closed"] += closed

    run()
    print(f"FIGURES core-fuzz {name} {fed}")
    assert fed["frames"] >= MIN_FRAMES or EXAMPLES < 2500, fed
