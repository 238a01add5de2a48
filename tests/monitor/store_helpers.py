"""Builders shared by the store, outbox and MQTT sink tests: findings and utterances with realistic fields."""

from __future__ import annotations

from typing import Any

from rules.events import Speaker, Utterance, Word
from rules.findings import Finding, Severity


def make_finding(
    call_id: str,
    n: int,
    *,
    rule_id: str = "pci.pan-spoken",
    kind: str = "sensitive_number",
    outcome: str = "pan_detected",
    severity: Severity = Severity.CRITICAL,
    evidence: str = "my card number is [card ending 1111]",
    speaker: Speaker = Speaker.CUSTOMER,
    details: dict[str, Any] | None = None,
) -> Finding:
    """The n-th finding of a call, with an engine-style stable id."""
    return Finding(
        call_id=call_id,
        rule_id=rule_id,
        kind=kind,
        outcome=outcome,
        severity=severity,
        start=10.0 + n,
        end=12.5 + n,
        reason=f"reason {n}",
        evidence=evidence,
        speaker=speaker,
        channel=0 if speaker is Speaker.CUSTOMER else 1,
        matched_phrase="",
        similarity=0.0,
        finding_id=f"{call_id}:{rule_id}:{n}",
        pack_id=rule_id.split(".")[0],
        pack_version="1.0.0",
        details=details or {},
    )


def make_utterance(
    call_id: str, index: int, text: str, *, final: bool = True, speaker: Speaker = Speaker.AGENT
) -> Utterance:
    """A final (or partial) utterance of `text` with ~0.35 s per word."""
    words = tuple(Word(w, 1.0 + index * 5 + i * 0.35, 1.3 + index * 5 + i * 0.35) for i, w in enumerate(text.split()))
    return Utterance(
        call_id=call_id,
        speaker=speaker,
        channel=1 if speaker is Speaker.AGENT else 0,
        index=index,
        text=text,
        words=words,
        start=words[0].start if words else 0.0,
        end=words[-1].end if words else 0.0,
        final=final,
    )
