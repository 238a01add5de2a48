"""Scripted /live messages and stored calls in the shapes of docs/live-feed.md, for the dashboard harness and tests."""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

CARD_EVIDENCE = "my card number is [card ••••1111]"


def call_started(call_id: str, agent: str, queue: str, started_wall: float) -> Message:
    """A `call_started` message for a two-leg call."""
    return {
        "type": "call_started",
        "call_id": call_id,
        "protocol": "twilio",
        "metadata": {"agent": agent, "queue": queue, "direction": "inbound"},
        "started_wall": started_wall,
        "legs": [
            {"index": 0, "role": "agent", "label": "outbound"},
            {"index": 1, "role": "customer", "label": "inbound"},
        ],
    }


def transcript(
    call_id: str, speaker: str, index: int, text: str, start: float, end: float, *, final: bool = True
) -> Message:
    """A `transcript` message (a partial when `final` is false)."""
    channel = 0 if speaker == "agent" else 1
    return {
        "type": "transcript",
        "call_id": call_id,
        "speaker": speaker,
        "channel": channel,
        "index": index,
        "text": text,
        "start": start,
        "end": end,
        "final": final,
    }


def finding(
    call_id: str,
    finding_id: str,
    rule_id: str,
    kind: str,
    outcome: str,
    severity: str,
    span: tuple[float, float],
    evidence: str,
    reason: str,
    speaker: str = "agent",
) -> Message:
    """The finding JSON (as `Finding.to_json` gives it)."""
    return {
        "finding_id": finding_id,
        "call_id": call_id,
        "rule_id": rule_id,
        "pack_id": rule_id.split(".", 1)[0],
        "pack_version": "1.0.0",
        "kind": kind,
        "outcome": outcome,
        "severity": severity,
        "speaker": speaker,
        "channel": 0 if speaker == "agent" else 1,
        "start": span[0],
        "end": span[1],
        "evidence": evidence,
        "matched_phrase": "",
        "similarity": 0.0,
        "reason": reason,
        "details": {},
    }


def finding_message(found: Message, wall_time: float) -> Message:
    """A `finding` message carrying `found`."""
    return {"type": "finding", "call_id": found["call_id"], "finding": found, "wall_time": wall_time}


DEMO_LINES: list[tuple[str, str, float, float]] = [
    ("agent", "thank you for calling acme bank this call is recorded for quality and training purposes", 0.4, 5.1),
    ("agent", "do you agree to the recording", 5.6, 7.2),
    ("customer", "yes that's fine", 7.8, 8.9),
    ("agent", "how can i help you today", 9.5, 11.0),
    ("customer", "i'd like to pay my bill", 11.6, 13.2),
    ("agent", "sure i can help with that", 13.8, 15.3),
    ("customer", CARD_EVIDENCE, 16.0, 22.4),
    ("agent", "please don't read card numbers out loud i will send you a secure payment link", 23.0, 27.6),
    ("customer", "oh sorry the security code is [number]", 28.2, 30.9),
]


def demo_findings(call_id: str) -> list[Message]:
    """Findings for the demo call: disclosure said, consent given, card number and CVV spoken."""
    return [
        finding(call_id, f"{call_id}-f1", "disclosure.recording", "required_phrase", "said", "info", (0.4, 5.1),
                "this call is recorded for quality and training purposes", "disclosure said at 0.4 s (deadline 15 s)"),
        finding(call_id, f"{call_id}-f2", "consent.recording", "consent", "consent_given", "info", (7.8, 8.9),
                "yes that's fine", "customer agreed to the recording", speaker="customer"),
        finding(call_id, f"{call_id}-f3", "pci.pan-spoken", "sensitive_number", "pan_detected", "critical",
                (16.0, 22.4), CARD_EVIDENCE, "a Luhn-valid card number was read aloud by the customer",
                speaker="customer"),
        finding(call_id, f"{call_id}-f4", "pci.cvv-spoken", "sensitive_number", "cvv_detected", "high", (28.2, 30.9),
                "oh sorry the security code is [number]", "a security code followed a card number",
                speaker="customer"),
    ]


def demo_live_script(call_id: str, started_wall: float) -> list[Message]:
    """A whole call as /live messages: start, partials then finals, findings after the words that cause them."""
    messages: list[Message] = [call_started(call_id, "alice", "billing", started_wall)]
    found = {f["start"]: f for f in demo_findings(call_id)}
    for index, (speaker, text, start, end) in enumerate(DEMO_LINES):
        words = text.split()
        messages.append(transcript(call_id, speaker, index, " ".join(words[: max(1, len(words) // 2)]), start,
                                   (start + end) / 2, final=False))
        messages.append(transcript(call_id, speaker, index, text, start, end))
        messages.append({"type": "clock", "call_id": call_id, "audio_time": end})
        if start in found:
            messages.append(finding_message(found[start], started_wall + end + 0.4))
    return messages


def report_item(rule_id: str, kind: str, severity: str, weight: float, status: str, summary: str,
                findings: list[Message], *, auto_fail: bool = False) -> Message:
    """One report item in the shape of rules/scoring.py."""
    possible = weight if status != "not_applicable" else 0.0
    return {
        "rule_id": rule_id, "pack_id": rule_id.split(".", 1)[0], "pack_version": "1.0.0", "kind": kind,
        "severity": severity, "weight": weight, "auto_fail": auto_fail, "status": status,
        "points": possible if status == "passed" else 0.0, "possible": possible, "summary": summary,
        "finding_ids": [f["finding_id"] for f in findings],
        "evidence": [{k: f[k] for k in ("finding_id", "outcome", "severity", "start", "end", "evidence", "reason")}
                     for f in findings],
    }


def demo_report(call_id: str, findings: list[Message]) -> Message:
    """The end-of-call report of the demo call (a PCI auto-fail)."""
    by_rule = {f["rule_id"]: [g for g in findings if g["rule_id"] == f["rule_id"]] for f in findings}
    items = [
        report_item("disclosure.recording", "required_phrase", "high", 20, "passed", "said in time",
                    by_rule.get("disclosure.recording", [])),
        report_item("consent.recording", "consent", "high", 20, "passed", "consent given",
                    by_rule.get("consent.recording", [])),
        report_item("pci.pan-spoken", "sensitive_number", "critical", 30, "failed", "card number spoken",
                    by_rule.get("pci.pan-spoken", []), auto_fail=True),
        report_item("pci.cvv-spoken", "sensitive_number", "high", 20, "failed", "security code spoken",
                    by_rule.get("pci.cvv-spoken", [])),
        report_item("conduct.profanity", "forbidden_phrase", "medium", 10, "passed", "no forbidden phrase", []),
    ]
    return {
        "report_version": 1, "call_id": call_id, "final": True, "language": "en", "started_at": 0.0,
        "ended_at": 32.0, "end_reason": "hangup", "score": 0.0, "pass_mark": 80.0, "passed": False,
        "auto_failed": True, "auto_fail_rules": ["pci.pan-spoken"], "worst_severity": "critical",
        "counts": {"findings": len(findings), "rules_passed": 3, "rules_failed": 2, "rules_not_applicable": 0},
        "packs": [{"id": "disclosure", "version": "1.0.0"}, {"id": "consent", "version": "1.0.0"},
                  {"id": "pci", "version": "1.0.0"}, {"id": "conduct", "version": "1.0.0"}],
        "items": items, "findings": findings,
    }


def stored_call(call_id: str, agent: str, queue: str, started_wall: float, *, clean: bool = False) -> Message:
    """A /api/calls/<id> document: the demo call (or a clean variant without the card findings)."""
    found = demo_findings(call_id)
    lines = DEMO_LINES
    if clean:
        found, lines = found[:2], DEMO_LINES[:6]
    report = demo_report(call_id, found)
    if clean:
        for item in report["items"]:
            item.update(status="passed", points=item["possible"], evidence=[] if item["kind"] == "sensitive_number"
                        else item["evidence"], finding_ids=[] if item["kind"] == "sensitive_number"
                        else item["finding_ids"])
        report.update(score=100.0, passed=True, auto_failed=False, auto_fail_rules=[], worst_severity="info")
    duration = lines[-1][3] + 1.0
    return {
        "call": {
            "call_id": call_id, "protocol": "twilio", "metadata": {"agent": agent, "queue": queue},
            "agent": agent, "started_wall": started_wall, "ended_wall": started_wall + duration,
            "status": "ended", "end_reason": "hangup", "score": report["score"], "passed": report["passed"],
        },
        "report": report,
        "findings": found,
        "transcript": [
            {"speaker": s, "channel": 0 if s == "agent" else 1, "index": i, "start": a, "end": b, "text": t}
            for i, (s, t, a, b) in enumerate(lines)
        ],
        "acknowledgements": [],
    }
