"""Row-level helpers of the store: outbox topics, JSON encoding, and the (encrypting) inserts of outbox rows, findings
and consent records."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.store.backend import Connection
from monitor.store.crypto import DataKeys
from monitor.store.guard import DigitGuard
from monitor.store.records import WEBHOOK_PREFIX, ConsentRecord
from rules.findings import SEVERITY_ORDER, Finding

_TOPIC_UNSAFE = {"/": "%2F", "+": "%2B", "#": "%23", "%": "%25", "\x00": "%00"}


def topic_segment(call_id: str) -> str:
    """`call_id` made safe as one MQTT topic level ("/", "+", "#", "%" and NUL percent-encoded)."""
    return "".join(_TOPIC_UNSAFE.get(ch, ch) for ch in call_id)


def alert_topic(call_id: str) -> str:
    """The outbox topic (relative to the sink's prefix) of a call's finding alerts."""
    return f"alerts/{topic_segment(call_id)}"


def control_topic(call_id: str) -> str:
    """The outbox topic (relative to the sink's prefix) of a call's recording control events (pause/resume)."""
    return f"calls/{topic_segment(call_id)}/control"


def escalation_topic(call_id: str) -> str:
    """The outbox topic (relative to the sink's prefix) of escalations of a call's alerts."""
    return f"alerts/{topic_segment(call_id)}/escalation"


def webhook_topic(topic: str) -> str:
    """The outbox topic of the webhook sink's copy of a message on `topic`."""
    return WEBHOOK_PREFIX + topic


CONTROL_WEBHOOK_PREFIX = WEBHOOK_PREFIX + "calls/"
"""The recording-control webhook's rows (`webhook_topic(control_topic(id))`)."""


def route_prefix(route: str) -> str:
    """The outbox topic prefix of one alert webhook route's rows (drained by that route's sink alone)."""
    return f"{WEBHOOK_PREFIX}route/{route}/"


def route_topic(route: str, topic: str) -> str:
    """The outbox topic of an alert webhook route's copy of a message on `topic`."""
    return route_prefix(route) + topic


def score_topic(call_id: str) -> str:
    """The outbox topic (relative to the sink's prefix) of a call's end-of-call score."""
    return f"calls/{topic_segment(call_id)}/score"


def alert_payload(finding_json: Mapping[str, Any], wall: float) -> dict[str, Any]:
    """The MQTT alert message of a finding (its JSON, redacted by the engine) raised at `wall`."""
    return {"type": "finding", **finding_json, "wall_time": wall}


def score_payload(
    call_id: str,
    report: Mapping[str, Any],
    *,
    status: str,
    end_reason: str,
    passed: bool | None,
    score: float | None,
    audio_seconds: float,
    ended_wall: float,
) -> dict[str, Any]:
    """The MQTT score message of an ended call."""
    return {
        "type": "score",
        "call_id": call_id,
        "status": status,
        "end_reason": end_reason,
        "passed": passed,
        "score": score,
        "audio_seconds": round(audio_seconds, 3),
        "ended_wall": ended_wall,
        "report": dict(report),
    }


def dumps(value: Any) -> str:
    """Compact JSON (UTF-8 kept, unknown objects as str)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def enqueue(
    conn: Connection,
    keys: DataKeys,
    call_id: str,
    topic: str,
    payload: Mapping[str, Any],
    finding_id: str | None,
    wall: float,
    owner: str | None = None,
) -> int:
    """Append one outbox row, payload encrypted (inside the caller's transaction); returns its seq. `owner`: the
    replica that delivers it (None with one process)."""
    cur = conn.execute(
        "INSERT INTO outbox(call_id, topic, payload, finding_id, created_wall, owner) VALUES (?, ?, ?, ?, ?, ?) "
        "RETURNING seq",
        (call_id, topic, keys.encrypt(dumps(payload), f"outbox.payload|{call_id}"), finding_id, wall, owner),
    )
    return int(cur.fetchone()[0])


def insert_finding(
    conn: Connection, keys: DataKeys, finding: Finding, data: dict[str, Any], wall: float
) -> bool:
    """Insert one finding with its (guarded, encrypted) JSON; False when its finding_id is already stored."""
    cur = conn.execute(
        "INSERT INTO findings(finding_id, call_id, rule_id, pack_id, pack_version, kind, outcome, "
        "severity, severity_rank, audio_start, audio_end, wall_time, json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(finding_id) DO NOTHING",
        (
            finding.finding_id,
            finding.call_id,
            finding.rule_id,
            finding.pack_id,
            finding.pack_version,
            finding.kind,
            finding.outcome,
            str(finding.severity),
            SEVERITY_ORDER[finding.severity],
            finding.start,
            finding.end,
            wall,
            keys.encrypt(dumps(data), f"findings.json|{finding.call_id}"),
        ),
    )
    return cur.rowcount == 1


def insert_consent(conn: Connection, keys: DataKeys, g: DigitGuard, r: ConsentRecord) -> None:
    """Insert one consent record, texts encrypted (a record of an already-recorded finding is skipped)."""
    aad = "consent_records"
    conn.execute(
        "INSERT INTO consent_records(call_id, finding_id, rule_id, pack_id, pack_version, disclosed_text, "
        "disclosed_by, disclosed_at, answer_text, answered_by, answered_at, classification, wall_time) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(finding_id) DO NOTHING",
        (
            r.call_id,
            r.finding_id,
            r.rule_id,
            r.pack_id,
            r.pack_version,
            keys.encrypt(g.text(r.disclosed_text, "consent.disclosed_text"), f"{aad}.disclosed_text|{r.call_id}"),
            r.disclosed_by,
            r.disclosed_at,
            keys.encrypt(g.text(r.answer_text, "consent.answer_text"), f"{aad}.answer_text|{r.call_id}"),
            r.answered_by,
            r.answered_at,
            r.classification,
            r.wall_time,
        ),
    )


def consent_from_finding(finding: Finding, wall_time: float) -> ConsentRecord:
    """The consent record a "consent" finding stands for (rules/kinds/consent.py shape).

    The question comes from `details["question"]` (redacted) at `details["question_start"]` (audio s), asked by
    the agent; the answer is the finding's evidence (redacted), by its speaker at its start; the classification
    is its outcome (consent_given, consent_refused, consent_unclear, consent_withdrawn, not_asked). Falls back
    to `matched_phrase` when no question text is given.
    """
    d = finding.details
    asked_at = d.get("question_start")
    return ConsentRecord(
        call_id=finding.call_id,
        rule_id=finding.rule_id,
        pack_id=finding.pack_id,
        pack_version=finding.pack_version,
        disclosed_text=str(d.get("question") or finding.matched_phrase),
        disclosed_by="agent",
        disclosed_at=float(asked_at) if isinstance(asked_at, int | float) else None,
        answer_text=finding.evidence,
        answered_by=str(finding.speaker),
        answered_at=finding.start,
        classification=finding.outcome,
        wall_time=wall_time,
        finding_id=finding.finding_id,
    )


def pack_event_log(lines: Sequence[str]) -> str:
    """A call's event log JSON lines as one stored text (before encryption): zlib-compressed, base64."""
    return base64.b64encode(zlib.compress("\n".join(lines).encode(), 6)).decode()


def unpack_event_log(text: str) -> list[str]:
    """The JSON lines of a stored event log text (`pack_event_log`'s inverse)."""
    raw = zlib.decompress(base64.b64decode(text, validate=True)).decode()
    return raw.split("\n") if raw else []
