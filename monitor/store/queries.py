"""Read-side SQL of the store: listing and loading (and decrypting) calls, transcripts, findings, consent records and
the outbox."""

from __future__ import annotations

import json
from typing import Any, cast

from monitor.store.backend import Connection
from monitor.store.coaching import NO_GROUP, CoachingCall, GroupBy
from monitor.store.crypto import DataKeyError, DataKeys
from monitor.store.records import (
    WEBHOOK_PREFIX,
    Acknowledgement,
    AlertAction,
    CallDetail,
    CallFilter,
    CallStatus,
    CallSummary,
    ConsentRecord,
    OutboxRow,
    StoredFinding,
    StoreError,
    TranscriptLine,
)
from rules.findings import SEVERITY_ORDER, Severity

MAX_LIMIT = 1000

_SUMMARY_COLUMNS = """
    c.call_id, c.protocol, c.language, c.metadata, c.agent, c.started_wall, c.ended_wall, c.audio_seconds,
    c.status, c.end_reason, c.passed, c.score,
    (SELECT COUNT(*) FROM findings f WHERE f.call_id = c.call_id AND f.severity_rank > 0) AS findings_count,
    (SELECT MAX(f.severity_rank) FROM findings f WHERE f.call_id = c.call_id AND f.severity_rank > 0) AS worst
"""
_RANK_TO_SEVERITY = {rank: str(sev) for sev, rank in SEVERITY_ORDER.items()}


def severity_rank(severity: str) -> int:
    """The order of a severity name (info=0 … critical=4); a clear error for an unknown name."""
    try:
        return SEVERITY_ORDER[Severity(severity)]
    except ValueError:
        known = ", ".join(str(s) for s in Severity)
        raise StoreError(f"unknown severity {severity!r}; use one of: {known}") from None


def _summary(row: Any, keys: DataKeys) -> CallSummary:
    passed = row["passed"]
    worst = row["worst"]
    return CallSummary(
        call_id=row["call_id"],
        protocol=row["protocol"],
        language=row["language"],
        metadata=json.loads(keys.decrypt(row["metadata"], f"calls.metadata|{row['call_id']}")),
        agent=row["agent"],
        started_wall=row["started_wall"],
        ended_wall=row["ended_wall"],
        audio_seconds=row["audio_seconds"],
        status=cast(CallStatus, row["status"]),
        end_reason=row["end_reason"],
        passed=None if passed is None else bool(passed),
        score=row["score"],
        findings_count=int(row["findings_count"]),
        max_severity=None if worst is None else _RANK_TO_SEVERITY[int(worst)],
    )


def list_calls(conn: Connection, keys: DataKeys, flt: CallFilter) -> list[CallSummary]:
    """Calls matching `flt`, newest first (by start wall time)."""
    if not 0 < flt.limit <= MAX_LIMIT:
        raise StoreError(f"list_calls limit must be within 1..{MAX_LIMIT}, got {flt.limit}")
    if flt.offset < 0:
        raise StoreError(f"list_calls offset must be ≥ 0, got {flt.offset}")
    where: list[str] = []
    args: list[Any] = []
    if flt.since is not None:
        where.append("c.started_wall >= ?")
        args.append(flt.since)
    if flt.until is not None:
        where.append("c.started_wall < ?")
        args.append(flt.until)
    if flt.agent is not None:
        where.append("c.agent = ?")
        args.append(flt.agent)
    if flt.passed is not None:
        where.append("c.passed = ?")
        args.append(int(flt.passed))
    if flt.statuses:
        where.append(f"c.status IN ({','.join('?' * len(flt.statuses))})")
        args.extend(flt.statuses)
    if flt.rule is not None or flt.severity is not None:
        cond = ["f.call_id = c.call_id"]
        if flt.rule is not None:
            cond.append("f.rule_id = ?")
            args.append(flt.rule)
        if flt.severity is not None:
            cond.append("f.severity_rank >= ?")
            args.append(severity_rank(flt.severity))
        where.append(f"EXISTS (SELECT 1 FROM findings f WHERE {' AND '.join(cond)})")
    sql = f"SELECT {_SUMMARY_COLUMNS} FROM calls c"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY c.started_wall DESC, c.call_id LIMIT ? OFFSET ?"
    args.extend((flt.limit, flt.offset))
    return [_summary(row, keys) for row in conn.execute(sql, args)]


def call_summary(conn: Connection, keys: DataKeys, call_id: str) -> CallSummary | None:
    """One call's summary, None when it is not stored."""
    row = conn.execute(f"SELECT {_SUMMARY_COLUMNS} FROM calls c WHERE c.call_id = ?", (call_id,)).fetchone()
    return None if row is None else _summary(row, keys)


def transcript(conn: Connection, keys: DataKeys, call_id: str) -> tuple[TranscriptLine, ...]:
    """The call's final utterances in audio-time order."""
    rows = conn.execute(
        'SELECT speaker, channel, utterance_index, start, "end", text FROM transcript '
        "WHERE call_id = ? ORDER BY start, channel, utterance_index",
        (call_id,),
    )
    aad = f"transcript.text|{call_id}"
    return tuple(
        TranscriptLine(
            r["speaker"], r["channel"], r["utterance_index"], r["start"], r["end"], keys.decrypt(r["text"], aad)
        )
        for r in rows
    )


def findings(conn: Connection, keys: DataKeys, call_id: str) -> tuple[StoredFinding, ...]:
    """The call's findings in audio-time order, each with its acknowledgements."""
    acks: dict[str, list[Acknowledgement]] = {}
    for r in conn.execute(
        "SELECT a.finding_id, a.who, a.wall_time, a.note FROM acknowledgements a "
        "JOIN findings f ON f.finding_id = a.finding_id WHERE f.call_id = ? ORDER BY a.id",
        (call_id,),
    ):
        note = keys.decrypt(r["note"], f"acknowledgements.note|{r['finding_id']}")
        acks.setdefault(r["finding_id"], []).append(Acknowledgement(r["finding_id"], r["who"], r["wall_time"], note))
    actions: dict[str, list[AlertAction]] = {}
    for action in alert_actions(conn, keys, call_id):
        actions.setdefault(action.finding_id, []).append(action)
    rows = conn.execute(
        "SELECT finding_id, call_id, rule_id, severity, outcome, audio_start, audio_end, wall_time, json "
        "FROM findings WHERE call_id = ? ORDER BY audio_start, wall_time, finding_id",
        (call_id,),
    )
    return tuple(
        StoredFinding(
            finding_id=r["finding_id"],
            call_id=r["call_id"],
            rule_id=r["rule_id"],
            severity=r["severity"],
            outcome=r["outcome"],
            audio_start=r["audio_start"],
            audio_end=r["audio_end"],
            wall_time=r["wall_time"],
            data=json.loads(keys.decrypt(r["json"], f"findings.json|{call_id}")),
            acknowledgements=tuple(acks.get(r["finding_id"], ())),
            actions=tuple(actions.get(r["finding_id"], ())),
        )
        for r in rows
    )


def alert_actions(conn: Connection, keys: DataKeys, call_id: str) -> list[AlertAction]:
    """Every workflow action on the call's alerts, in the order taken (notes decrypted)."""
    rows = conn.execute(
        "SELECT finding_id, call_id, action, actor, role, wall_time, target, reason, note FROM alert_actions "
        "WHERE call_id = ? ORDER BY id",
        (call_id,),
    )
    return [
        AlertAction(
            finding_id=r["finding_id"], call_id=r["call_id"], action=r["action"], actor=r["actor"],
            wall_time=r["wall_time"], target=r["target"], reason=r["reason"],
            note=keys.decrypt(r["note"], f"alert_actions.note|{r['finding_id']}"),
            role=r["role"],
        )
        for r in rows
    ]


def consent_records(conn: Connection, keys: DataKeys, call_id: str) -> tuple[ConsentRecord, ...]:
    """The call's consent records in audio-time order."""
    rows = conn.execute(
        "SELECT call_id, rule_id, pack_id, pack_version, disclosed_text, disclosed_by, disclosed_at, answer_text, "
        "answered_by, answered_at, classification, wall_time, finding_id FROM consent_records "
        "WHERE call_id = ? ORDER BY answered_at, id",
        (call_id,),
    )
    records = []
    for r in rows:
        values = dict(r)
        for column in ("disclosed_text", "answer_text"):
            values[column] = keys.decrypt(values[column], f"consent_records.{column}|{call_id}")
        records.append(ConsentRecord(**values))
    return tuple(records)


def report(conn: Connection, keys: DataKeys, call_id: str) -> dict[str, Any] | None:
    """The stored end-of-call report (score JSON), None when the call is unknown or not scored yet."""
    row = conn.execute("SELECT score_json FROM calls WHERE call_id = ?", (call_id,)).fetchone()
    if row is None or row["score_json"] is None:
        return None
    loaded: dict[str, Any] = json.loads(keys.decrypt(row["score_json"], f"calls.score_json|{call_id}"))
    return loaded


def call_detail(conn: Connection, keys: DataKeys, call_id: str) -> CallDetail | None:
    """Everything stored about one call, None when it is unknown."""
    summary = call_summary(conn, keys, call_id)
    if summary is None:
        return None
    return CallDetail(
        call=summary,
        transcript=transcript(conn, keys, call_id),
        findings=findings(conn, keys, call_id),
        consent=consent_records(conn, keys, call_id),
        report=report(conn, keys, call_id),
    )


def pending_outbox(
    conn: Connection, keys: DataKeys, limit: int, webhook: bool | str = False, owner: str | None = None
) -> list[OutboxRow]:
    """Undelivered outbox rows, oldest first (seq order, hence per-call order too): the webhook sinks' rows (topic
    under WEBHOOK_PREFIX) when `webhook` is True, one webhook sink's when it is a topic prefix under WEBHOOK_PREFIX
    (each webhook drains its own rows: a failing receiver holds up no other), else the alert sink's (every row not
    under WEBHOOK_PREFIX). With `owner` (a replica of a fleet), only the rows that replica delivers."""
    prefix = webhook if isinstance(webhook, str) and webhook else WEBHOOK_PREFIX
    rows = conn.execute(
        "SELECT seq, call_id, topic, payload, finding_id, created_wall, attempts, last_error, delivered_wall "
        "FROM outbox WHERE delivered_wall IS NULL AND dead_wall IS NULL AND (substr(topic, 1, ?) = ?) = ? "
        f"{'AND owner = ? ' if owner is not None else ''}ORDER BY seq LIMIT ?",
        (len(prefix), prefix, bool(webhook), *((owner,) if owner is not None else ()), limit),
    )
    out = []
    for r in rows:
        values = dict(r)
        try:
            values["payload"] = keys.decrypt(values["payload"], f"outbox.payload|{values['call_id']}")
        except DataKeyError as error:  # one unreadable row must not hide the others: the sink dead-letters it
            values.update(payload="", last_error=str(error), readable=False)
        out.append(OutboxRow(**values))
    return out


def outbox_depth(conn: Connection, owner: str | None = None) -> int:
    """How many outbox rows wait for delivery (with `owner`: by that replica)."""
    sql = "SELECT COUNT(*) FROM outbox WHERE delivered_wall IS NULL AND dead_wall IS NULL"
    if owner is None:
        return int(conn.execute(sql).fetchone()[0])
    return int(conn.execute(sql + " AND owner = ?", (owner,)).fetchone()[0])


DO_NOT_CALL_OUTCOMES = ("do_not_call_requested", "do_not_contact")
"""Finding outcomes that are requests not to be called or contacted (tcpa.do-not-call-request, gdpr.do-not-contact)."""


def do_not_call_requests(
    conn: Connection, keys: DataKeys, since: float | None, until: float | None, limit: int
) -> list[StoredFinding]:
    """Do-not-call / do-not-contact requests of every call, newest first (by when they were raised)."""
    marks = ", ".join("?" for _ in DO_NOT_CALL_OUTCOMES)
    rows = conn.execute(
        "SELECT finding_id, call_id, rule_id, severity, outcome, audio_start, audio_end, wall_time, json "
        f"FROM findings WHERE outcome IN ({marks}) AND wall_time >= ? AND wall_time < ? "
        "ORDER BY wall_time DESC, finding_id LIMIT ?",
        (*DO_NOT_CALL_OUTCOMES, since if since is not None else float("-inf"),
         until if until is not None else float("inf"), limit),
    )
    return [
        StoredFinding(
            finding_id=r["finding_id"], call_id=r["call_id"], rule_id=r["rule_id"], severity=r["severity"],
            outcome=r["outcome"], audio_start=r["audio_start"], audio_end=r["audio_end"], wall_time=r["wall_time"],
            data=json.loads(keys.decrypt(r["json"], f"findings.json|{r['call_id']}")),
        )
        for r in rows
    ]


def coaching_calls(
    conn: Connection, keys: DataKeys, since: float, until: float, by: GroupBy
) -> list[CoachingCall]:
    """Ended calls started in [since, until) with their alerts (findings above info) per rule, grouped by agent or
    by queue (the queue is in the encrypted metadata: decrypted here, per call)."""
    counts: dict[str, dict[str, int]] = {}
    for r in conn.execute(
        "SELECT f.call_id, f.rule_id, COUNT(*) AS n FROM findings f JOIN calls c ON c.call_id = f.call_id "
        "WHERE c.status != 'active' AND c.started_wall >= ? AND c.started_wall < ? AND f.severity_rank > 0 "
        "GROUP BY f.call_id, f.rule_id",
        (since, until),
    ):
        counts.setdefault(r["call_id"], {})[r["rule_id"]] = int(r["n"])
    out = []
    for r in conn.execute(
        "SELECT call_id, agent, metadata, started_wall, passed, score FROM calls "
        "WHERE status != 'active' AND started_wall >= ? AND started_wall < ? ORDER BY started_wall",
        (since, until),
    ):
        if by == "agent":
            group = r["agent"] or NO_GROUP
        else:
            meta = json.loads(keys.decrypt(r["metadata"], f"calls.metadata|{r['call_id']}"))
            group = str(meta.get("queue") or NO_GROUP)
        passed = r["passed"]
        out.append(CoachingCall(r["call_id"], group, r["started_wall"], None if passed is None else bool(passed),
                                r["score"], counts.get(r["call_id"], {})))
    return out
