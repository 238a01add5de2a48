"""Deterministic call scoring: weighted rule outcomes, auto-fail rules, per-item evidence → one JSON report.

Score = 100 × (weights of passed rules) / (weights of applicable rules), rounded to 0.1; rules whose outcome is
None (not applicable, e.g. no phrases for the call's language, or still pending) are left out. A failed
auto-fail rule forces score 0 and passed false. A call passes when it is final, nothing auto-failed and
score ≥ pass_mark. The shape is documented in docs/report.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rules.events import CallEnded, CallStarted
from rules.findings import SEVERITY_ORDER, Finding, Severity
from rules.model import RuleOutcome, RuleSpec

REPORT_VERSION = 1


def _status(outcome: RuleOutcome | None) -> str:
    if outcome is None or outcome.passed is None:
        return "not_applicable"
    return "passed" if outcome.passed else "failed"


def _evidence(finding: Finding) -> dict[str, Any]:
    item: dict[str, Any] = {
        "finding_id": finding.finding_id,
        "outcome": finding.outcome,
        "severity": str(finding.severity),
        "start": round(finding.start, 3),
        "end": round(finding.end, 3),
        "evidence": finding.evidence,
        "reason": finding.reason,
    }
    if finding.attribution_confidence is not None:  # a single-channel call's turns (rules/attribution.py)
        item["attribution_confidence"] = round(finding.attribution_confidence, 3)
    return item


def score_item(spec: RuleSpec, outcome: RuleOutcome | None, findings: Sequence[Finding]) -> dict[str, Any]:
    """One report item: a rule's status, points earned of possible, and its findings as evidence."""
    status = _status(outcome)
    possible = spec.weight if status != "not_applicable" else 0.0
    return {
        "rule_id": spec.id,
        "pack_id": spec.pack_id,
        "pack_version": spec.pack_version,
        "kind": spec.kind,
        "severity": str(spec.severity),
        "weight": spec.weight,
        "auto_fail": spec.auto_fail,
        "status": status,
        "points": possible if status == "passed" else 0.0,
        "possible": possible,
        "summary": outcome.summary if outcome else "",
        "finding_ids": [f.finding_id for f in findings],
        "evidence": [_evidence(f) for f in findings],
    }


def score_call(
    call_id: str,
    specs: Sequence[RuleSpec],
    outcomes: Sequence[RuleOutcome],
    findings: Sequence[Finding],
    started: CallStarted | None,
    ended: CallEnded | None,
    stats: dict[str, int],
    pass_mark: float = 80.0,
) -> dict[str, Any]:
    """The call's report (a JSON-ready dict; key order and contents depend only on the inputs)."""
    by_rule = {o.rule_id: o for o in outcomes}
    items = [score_item(s, by_rule.get(s.id), [f for f in findings if f.rule_id == s.id]) for s in specs]
    possible = sum(i["possible"] for i in items)
    earned = sum(i["points"] for i in items)
    auto_fail_rules = [i["rule_id"] for i in items if i["auto_fail"] and i["status"] == "failed"]
    score = 0.0 if auto_fail_rules else (round(100.0 * earned / possible, 1) if possible > 0 else 100.0)
    final = ended is not None
    severities = Counter(str(f.severity) for f in findings)
    packs: dict[str, str] = {}
    for spec in specs:
        packs.setdefault(spec.pack_id, spec.pack_version)
    return {
        "report_version": REPORT_VERSION,
        "call_id": call_id,
        "final": final,
        "language": started.language if started else "",
        "started_at": round(started.at, 3) if started else None,
        "ended_at": round(ended.at, 3) if ended else None,
        "end_reason": ended.reason if ended else None,
        "score": score,
        "pass_mark": pass_mark,
        "passed": final and not auto_fail_rules and score >= pass_mark,
        "auto_failed": bool(auto_fail_rules),
        "auto_fail_rules": auto_fail_rules,
        "worst_severity": _worst(findings),
        "counts": {
            "findings": len(findings),
            "by_severity": {str(s): severities.get(str(s), 0) for s in Severity},
            "rules_passed": sum(1 for i in items if i["status"] == "passed"),
            "rules_failed": sum(1 for i in items if i["status"] == "failed"),
            "rules_not_applicable": sum(1 for i in items if i["status"] == "not_applicable"),
        },
        "packs": [{"id": pid, "version": version} for pid, version in packs.items()],
        "items": items,
        "findings": [f.to_json() for f in findings],
        "engine": {"events": dict(sorted(stats.items()))},
    }


def _worst(findings: Sequence[Finding]) -> str:
    if not findings:
        return str(Severity.INFO)
    return str(max((f.severity for f in findings), key=lambda s: SEVERITY_ORDER[s]))
