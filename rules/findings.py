"""Findings (what a rule concluded, with its evidence) and severities."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rules.events import Speaker, rebuild_args


class Severity(StrEnum):
    """How urgent a finding is; `info` records a compliant outcome."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITY_ORDER: dict[Severity, int] = {s: i for i, s in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One conclusion of one rule about one call.

    `evidence` is always redacted text. `finding_id` is stable: the same call replayed gives the same ids.
    Rule kinds leave `finding_id`, `pack_id` and `pack_version` empty; the engine fills them in.
    `attribution_confidence` is None when every speaker came from a channel of its own; on a single-channel call
    split into turns (rules/attribution.py) the engine sets how sure the attribution behind the finding is.
    """

    call_id: str
    rule_id: str
    kind: str
    outcome: str
    severity: Severity
    start: float
    end: float
    reason: str
    evidence: str = ""
    speaker: Speaker = Speaker.UNKNOWN
    channel: int = -1
    matched_phrase: str = ""
    similarity: float = 0.0
    finding_id: str = ""
    pack_id: str = ""
    pack_version: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    attribution_confidence: float | None = None

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape alerts, reports and storage use); `attribution_confidence` only when set."""
        data = {
            "finding_id": self.finding_id,
            "call_id": self.call_id,
            "rule_id": self.rule_id,
            "pack_id": self.pack_id,
            "pack_version": self.pack_version,
            "kind": self.kind,
            "outcome": self.outcome,
            "severity": str(self.severity),
            "speaker": str(self.speaker),
            "channel": self.channel,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "evidence": self.evidence,
            "matched_phrase": self.matched_phrase,
            "similarity": round(self.similarity, 3),
            "reason": self.reason,
            "details": self.details,
        }
        if self.attribution_confidence is not None:
            data["attribution_confidence"] = round(self.attribution_confidence, 3)
        return data
