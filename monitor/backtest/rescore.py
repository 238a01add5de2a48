"""One stored call re-scored: its redacted event log replayed through a candidate rule set, digit rules carried over.

A stored event log has its card, CVV and bank digits masked ("[number]"; monitor/call/session.py), so the rules
whose kind judges digits (`DIGIT_KINDS`: card numbers, security codes, SSNs, bank numbers) cannot be recomputed
from it: a replay would find nothing and turn a call that read a card number out loud into a pass. Their stored
verdicts and findings are carried into the new report as they were and marked `"carried": true`; every other rule
is recomputed by the pure engine, which is deterministic for a given event stream, so the unchanged packs re-score
every call to exactly its stored outcome. Pure: no I/O (the runner reads the store and spreads calls over processes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.engine import CallMonitor
from rules.eventlog import loads_events
from rules.events import CallEnded, CallStarted, Speaker
from rules.findings import Finding, Severity
from rules.model import RuleOutcome
from rules.packs import RuleSet
from rules.scoring import score_call

DIGIT_KINDS = frozenset({"sensitive_number", "bank_number"})
"""Rule kinds that judge spoken digits, which stored event logs never hold: carried over, never recomputed."""
ABSENT = "absent"
"""The status of a rule in a report that has no item for it (a rule added or removed by the candidate packs)."""


@dataclass(frozen=True, slots=True)
class StoredCall:
    """What a backtest needs of one stored call: who and when (for filters and the diff), its stored report, and its
    redacted event log (rules.eventlog JSON lines)."""

    call_id: str
    language: str
    started_wall: float
    agent: str
    queue: str
    report: Mapping[str, Any]
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rescored:
    """A call's outcome under the candidate rules: per-rule status, score and verdict, and what was carried."""

    call_id: str
    statuses: dict[str, str]
    score: float | None
    passed: bool | None
    carried: tuple[str, ...]
    """Digit rules whose stored verdict was carried over."""
    uncomputable: tuple[str, ...]
    """Digit rules the stored report does not have (new rules): their verdict here is a replay without digits."""


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    """A stored finding (Finding.to_json's shape) as a Finding again."""
    return Finding(
        call_id=str(data["call_id"]),
        rule_id=str(data["rule_id"]),
        kind=str(data["kind"]),
        outcome=str(data["outcome"]),
        severity=Severity(data["severity"]),
        start=float(data["start"]),
        end=float(data["end"]),
        reason=str(data.get("reason", "")),
        evidence=str(data.get("evidence", "")),
        speaker=Speaker(data.get("speaker", "unknown")),
        channel=int(data.get("channel", -1)),
        matched_phrase=str(data.get("matched_phrase", "")),
        similarity=float(data.get("similarity", 0.0)),
        finding_id=str(data["finding_id"]),
        pack_id=str(data.get("pack_id", "")),
        pack_version=str(data.get("pack_version", "")),
        details=dict(data.get("details", {})),
    )


def statuses(report: Mapping[str, Any]) -> dict[str, str]:
    """Each rule's status in a report (passed, failed, not_applicable)."""
    return {str(item["rule_id"]): str(item["status"]) for item in report.get("items", ())}


def rescore(call: StoredCall, ruleset: RuleSet) -> tuple[dict[str, Any], Rescored]:
    """The call's report under `ruleset` (digit rules carried from its stored report) and its outcome summary."""
    events = loads_events("\n".join(call.lines))
    monitor = CallMonitor(ruleset, call_id=call.call_id, default_language=call.language)
    for event in events:
        monitor.feed(event)
    stored_items = {str(i["rule_id"]): i for i in call.report.get("items", ())}
    stored_findings = [f for f in call.report.get("findings", ()) if isinstance(f, Mapping)]
    carried = [s.id for s in ruleset.rules if s.kind in DIGIT_KINDS and s.id in stored_items]
    uncomputable = [s.id for s in ruleset.rules if s.kind in DIGIT_KINDS and s.id not in stored_items]
    outcomes = [o for o in monitor.outcomes() if o.rule_id not in carried]
    outcomes += [_stored_outcome(stored_items[rule_id]) for rule_id in carried]
    findings = [f for f in monitor.findings if f.rule_id not in carried]
    findings += [finding_from_json(f) for f in stored_findings if f.get("rule_id") in carried]
    findings.sort(key=lambda f: (f.start, f.end))
    started = next((e for e in events if isinstance(e, CallStarted)), None)
    ended = next((e for e in reversed(events) if isinstance(e, CallEnded)), None)
    report = score_call(
        call_id=call.call_id,
        specs=ruleset.rules,
        outcomes=outcomes,
        findings=findings,
        started=started,
        ended=ended,
        stats=dict(monitor.stats),
        pass_mark=float(call.report.get("pass_mark", 80.0)),
    )
    incomplete = call.report.get("score") is None  # an incomplete call is never scored (monitor/service.py)
    if incomplete:
        report = {**report, "score": None, "passed": None}
    for item in report["items"]:
        if item["rule_id"] in carried:
            item["carried"] = True
    report["backtest"] = {"carried_rules": carried, "uncomputable_rules": uncomputable}
    outcome = Rescored(
        call.call_id, statuses(report), report["score"], report["passed"], tuple(carried), tuple(uncomputable)
    )
    return report, outcome


def _stored_outcome(item: Mapping[str, Any]) -> RuleOutcome:
    status = item.get("status")
    passed = None if status == "not_applicable" else status == "passed"
    return RuleOutcome(str(item["rule_id"]), passed, str(item.get("summary", "")), tuple(item.get("finding_ids", ())))


def rescore_outcome(call: StoredCall, ruleset: RuleSet) -> Rescored:
    """`rescore` without the report (what a worker process hands back)."""
    return rescore(call, ruleset)[1]


def rescore_all(calls: Sequence[StoredCall], ruleset: RuleSet) -> list[Rescored]:
    """`rescore_outcome` of each call, in order (one worker's batch)."""
    return [rescore_outcome(call, ruleset) for call in calls]
