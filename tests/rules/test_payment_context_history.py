"""A payment phrase said AFTER a long number must not erase the one said before it (the possible_pan context)."""

from __future__ import annotations

from pathlib import Path

from rules.engine import CallMonitor
from rules.eventlog import loads_events
from rules.events import Speaker
from rules.packs import load_packs
from tests.rules.test_split_card_reading import pci_findings, stream_like_vosk

REAL_LOG = Path(__file__).parent / "data" / "vosk-account-number-call.jsonl"
"""A real event log (Vosk small en-us on the synthesized near-account call): the agent asks "what did your account
number" (sic), the customer reads 6011111111111118, the agent says "thank you your payment incomplete"."""

LUHN_FAILING = "six zero one one one one one one one one one one one one one eight"  # 6011111111111118


def test_possible_pan_keeps_the_context_said_before_it_when_payment_is_mentioned_again() -> None:
    # The agent's next final both mentions "payment" and closes the customer's run: the later phrase used to replace
    # the earlier "account number" before the run was judged, and possible_pan was lost.
    events = loads_events(REAL_LOG.read_text(encoding="utf-8"))
    monitor = CallMonitor(load_packs(), call_id=events[0].call_id)
    found = [f for event in events for f in monitor.feed(event)]
    findings = [f for f in found if f.rule_id == "pci.pan-spoken" and f.outcome != "no_sensitive_numbers"]
    assert [(f.outcome, f.speaker) for f in findings] == [("possible_pan", Speaker.CUSTOMER)]
    assert "6011" not in findings[0].evidence


def test_possible_pan_with_payment_mentioned_before_and_after_in_scripted_turns() -> None:
    events = stream_like_vosk(
        [
            (Speaker.AGENT, "sure what is your account number"),
            (Speaker.CUSTOMER, LUHN_FAILING),
            (Speaker.AGENT, "thank you your payment is complete"),
        ]
    )
    assert [f.outcome for f in pci_findings(events)] == ["possible_pan"]


def test_a_payment_phrase_only_after_the_number_is_not_its_context() -> None:
    events = stream_like_vosk(
        [
            (Speaker.AGENT, "how can i help you today"),
            (Speaker.CUSTOMER, LUHN_FAILING),
            (Speaker.AGENT, "thank you your payment is complete"),
        ]
    )
    assert [f.outcome for f in pci_findings(events)] == []
