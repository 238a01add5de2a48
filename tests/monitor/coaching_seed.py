"""A seeded two-week history for the coaching tests: two agents in two queues whose pass rates move in opposite
directions, a call without an agent or queue (incomplete), and an active call that coaching must ignore."""

from __future__ import annotations

from monitor.store.database import Store
from rules.findings import Severity
from tests.monitor.store_helpers import make_finding

DAY = 86400.0
PCI = ("pci.pan-spoken", "sensitive_number", "pan_detected", Severity.CRITICAL)
DISCLOSURE = ("disclosure.recording", "required_phrase", "not_said", Severity.HIGH)
COMPLIANT = ("disclosure.recording", "required_phrase", "said", Severity.INFO)

# (agent, queue, day relative to the current period's start, passed, rules of its findings)
HISTORY: tuple[tuple[str, str, int, bool | None, tuple[tuple[str, str, str, Severity], ...]], ...] = (
    # the previous week: ann fails 3 of 4 (card numbers read back), bob passes both
    ("ann", "billing", -6, False, (PCI,)), ("ann", "billing", -5, False, (PCI,)),
    ("ann", "billing", -3, False, (PCI,)), ("ann", "billing", -2, True, (COMPLIANT,)),
    ("bob", "payments", -4, True, (COMPLIANT,)), ("bob", "payments", -1, True, ()),
    # this week: ann passes 3 of 4 (one missed disclosure), bob fails 3 of 4
    ("ann", "billing", 0, True, ()), ("ann", "billing", 1, True, ()), ("ann", "billing", 2, True, ()),
    ("ann", "billing", 5, False, (DISCLOSURE,)),
    ("bob", "payments", 1, False, (DISCLOSURE, PCI)), ("bob", "payments", 3, False, (DISCLOSURE,)),
    ("bob", "payments", 4, False, (DISCLOSURE, PCI)), ("bob", "payments", 6, True, ()),
    ("", "", 2, None, (COMPLIANT,)),  # incomplete: counted as a call, not scored
)


def seed_history(store: Store, start: float) -> None:
    """The HISTORY around a current period [start, start + 7 days); call ids say agent and day."""
    for n, (agent, queue, day, passed, rules) in enumerate(HISTORY):
        call_id = f"hist-{agent or 'nobody'}-{n:02d}"
        metadata = {"agent": agent, "queue": queue} if agent else {}
        wall = start + day * DAY + 3600 * (1 + n % 5)
        store.call_started(call_id, protocol="twilio", started_wall=wall, metadata=metadata)
        findings = [
            make_finding(call_id, i, rule_id=rule, kind=kind, outcome=outcome, severity=sev)
            for i, (rule, kind, outcome, sev) in enumerate(rules)
        ]
        if findings:
            store.add_findings(findings, wall_time=wall + 60)
        score = None if passed is None else (90.0 if passed else 40.0)
        store.call_ended(
            call_id, ended_wall=wall + 300, audio_seconds=300, end_reason="stop" if passed is not None else "error",
            report={"score": score, "passed": passed}, passed=passed, score=score,
            status="completed" if passed is not None else "incomplete",
        )
    store.call_started("hist-active", protocol="twilio", started_wall=start + DAY, metadata={"agent": "ann"})
