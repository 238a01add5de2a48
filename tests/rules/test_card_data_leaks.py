"""Card data never reaches an outward field of a finding: the consent answer quoted in `reason` is redacted too."""

from __future__ import annotations

import json

from rules.engine import CallMonitor
from rules.packs import load_packs
from rules.transcripts import transcript_events

TEST_PAN_WORDS = "four one one one one one one one one one one one one one one one"


def test_an_unclear_consent_answer_with_a_card_number_is_redacted_in_the_reason() -> None:
    spec = next(r for r in load_packs().rules if r.id == "consent.recording")
    monitor = CallMonitor([spec], call_id="leak")
    lines = [
        "agent: this call may be recorded, do you consent to being recorded?",
        f"customer: my card is {TEST_PAN_WORDS}",
    ]
    findings = [f for e in transcript_events("leak", lines) for f in monitor.feed(e)]
    unclear = [f for f in findings if f.outcome == "consent_unclear"]
    assert unclear, [f.outcome for f in findings]
    outward = json.dumps([f.to_json() for f in findings] + [monitor.report()])
    assert "four one one one" not in outward
    assert "4111" not in outward
