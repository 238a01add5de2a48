"""Scoring: weighted outcomes, auto-fail, not-applicable rules left out, evidence per item, one JSON shape."""

from __future__ import annotations

import json

from rules.engine import CallMonitor
from rules.events import CallEnded, CallStarted
from rules.findings import Finding, Severity
from rules.model import RuleOutcome, RuleSpec
from rules.packs import load_packs
from rules.scoring import score_call
from rules.transcripts import transcript_events


def spec(rule_id: str, weight: float, auto_fail: bool = False) -> RuleSpec:
    return RuleSpec(rule_id, "forbidden_phrase", "p", "1.0.0", "en", Severity.HIGH, weight=weight, auto_fail=auto_fail)


def finding(rule_id: str, outcome: str) -> Finding:
    return Finding("c", rule_id, "forbidden_phrase", outcome, Severity.HIGH, 1.0, 2.0, "why", "ev", finding_id="f1")


def report(outcomes: list[RuleOutcome], specs: list[RuleSpec], findings: list[Finding] = []) -> dict[str, object]:  # noqa: B006
    return score_call("c", specs, outcomes, findings, CallStarted("c"), CallEnded("c", 60.0), {}, pass_mark=80.0)


def test_weighted_score_and_pass_mark() -> None:
    specs = [spec("a", 30), spec("b", 10), spec("c", 60)]
    outcomes = [RuleOutcome("a", True, ""), RuleOutcome("b", False, ""), RuleOutcome("c", None, "n/a")]
    result = report(outcomes, specs)
    assert result["score"] == 75.0 and result["passed"] is False
    items = result["items"]
    assert isinstance(items, list)
    assert [i["status"] for i in items] == ["passed", "failed", "not_applicable"]
    assert [i["possible"] for i in items] == [30, 10, 0.0]


def test_auto_fail_forces_zero() -> None:
    specs = [spec("a", 90), spec("b", 10, auto_fail=True)]
    result = report([RuleOutcome("a", True, ""), RuleOutcome("b", False, "")], specs, [finding("b", "forbidden_said")])
    assert (result["score"], result["passed"], result["auto_fail_rules"]) == (0.0, False, ["b"])
    items = result["items"]
    assert isinstance(items, list)
    assert items[1]["finding_ids"] == ["f1"] and items[1]["evidence"][0]["evidence"] == "ev"


def test_no_applicable_rules_scores_100() -> None:
    result = report([RuleOutcome("a", None, "")], [spec("a", 10)])
    assert result["score"] == 100.0 and result["passed"] is True


def test_report_of_a_real_call_is_deterministic_json() -> None:
    lines = [
        "agent: hello, this call may be recorded. do you consent to being recorded?",
        "customer: I'd rather not",
        "agent: understood. this investment is completely risk free",
    ]
    dumps = []
    for _ in range(2):
        monitor = CallMonitor(load_packs())
        for event in transcript_events("call-42", lines):
            monitor.feed(event)
        dumps.append(json.dumps(monitor.report(), sort_keys=True))
    assert dumps[0] == dumps[1]
    result = json.loads(dumps[0])
    assert result["auto_failed"] is True and "conduct.guaranteed-returns" in result["auto_fail_rules"]
    statuses = {i["rule_id"]: i["status"] for i in result["items"]}
    assert statuses["disclosure.recording"] == "passed"
    assert statuses["consent.recording"] == "failed"
    assert result["worst_severity"] == "critical"
    assert {f["finding_id"] for f in result["findings"]} == {i for it in result["items"] for i in it["finding_ids"]}
