"""The records the store hands back: calls, transcript lines, stored findings, consent proof, acks, outbox rows, and
their JSON shapes (the HTTP API and the GDPR export)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

CallStatus = Literal["active", "completed", "incomplete"]
CALL_STATUSES: tuple[CallStatus, ...] = ("active", "completed", "incomplete")


class StoreError(RuntimeError):
    """The store cannot do what was asked (unwritable data dir, unknown call or finding, bad argument)."""


@dataclass(frozen=True, slots=True)
class CallSummary:
    """One call as listed: identity, timing, status and its verdict (None until it is scored)."""

    call_id: str
    protocol: str
    language: str
    metadata: dict[str, str]
    agent: str | None
    started_wall: float
    ended_wall: float | None
    audio_seconds: float
    status: CallStatus
    end_reason: str | None
    passed: bool | None
    score: float | None
    findings_count: int
    """Findings above severity info (compliant outcomes are not counted)."""
    max_severity: str | None
    """The highest severity among its findings above info, None when there is none."""


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One final utterance of one leg, as stored (redacted text)."""

    speaker: str
    channel: int
    utterance_index: int
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A supervisor saw a finding: who, when (wall clock) and an optional note."""

    finding_id: str
    who: str
    wall_time: float
    note: str = ""


AlertActionKind = Literal["note", "assign", "resolve", "reopen", "escalate"]
ALERT_ACTIONS: tuple[AlertActionKind, ...] = ("note", "assign", "resolve", "reopen", "escalate")
RESOLUTION_REASONS = ("false_positive", "agent_coached", "customer_remediated", "no_action_needed", "other")
"""Why an alert was resolved; "other" needs a note saying why."""
MAX_NOTE_CHARS = 1000
MAX_TARGET_CHARS = 64


@dataclass(frozen=True, slots=True)
class AlertAction:
    """One supervisor action on an alert (a finding above info): a note, an assignment, a resolution (with its
    reason), a reopening or an escalation (to `target`). `note` is redacted free text."""

    finding_id: str
    call_id: str
    action: AlertActionKind
    actor: str
    wall_time: float
    target: str = ""
    reason: str = ""
    note: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where an alert stands after its actions: assignee, resolution, escalations, notes (fold of AlertAction)."""

    assignee: str = ""
    resolved: AlertAction | None = None
    escalations: tuple[AlertAction, ...] = ()
    notes: tuple[AlertAction, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.resolved is None


def alert_state(actions: tuple[AlertAction, ...] | list[AlertAction]) -> AlertState:
    """The state of one alert from its actions in the order they were taken."""
    assignee, resolved = "", None
    escalations: list[AlertAction] = []
    notes: list[AlertAction] = []
    for a in actions:
        if a.action == "assign":
            assignee = a.target
        elif a.action == "resolve":
            resolved = a
        elif a.action == "reopen":
            resolved = None
        elif a.action == "escalate":
            escalations.append(a)
        if a.note:
            notes.append(a)
    return AlertState(assignee, resolved, tuple(escalations), tuple(notes))


def alert_action_json(a: AlertAction) -> dict[str, Any]:
    """An action as /live (`alert_action`) and /api/calls/<id> (`alert_actions`) show it."""
    return {
        "call_id": a.call_id, "finding_id": a.finding_id, "action": a.action, "by": a.actor, "role": a.role,
        "at": a.wall_time, "target": a.target, "reason": a.reason, "note": a.note,
    }


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as stored: its JSON (Finding.to_json() shape), when it was raised, and its acknowledgements."""

    finding_id: str
    call_id: str
    rule_id: str
    severity: str
    outcome: str
    audio_start: float
    audio_end: float
    wall_time: float
    data: dict[str, Any]
    acknowledgements: tuple[Acknowledgement, ...] = ()
    actions: tuple[AlertAction, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """What was disclosed to the customer, what they answered and how it was classified — GDPR Art. 7(1) proof.

    Audio times are seconds since the call started; `wall_time` is when the service recorded it.
    """

    call_id: str
    rule_id: str
    pack_id: str
    pack_version: str
    disclosed_text: str
    disclosed_by: str
    disclosed_at: float | None
    answer_text: str
    answered_by: str
    answered_at: float
    classification: str
    wall_time: float
    finding_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentProof:
    """Every consent record of one call with the call's identity: the answer to "show me they agreed"."""

    call_id: str
    agent: str | None
    started_wall: float
    metadata: dict[str, str]
    records: tuple[ConsentRecord, ...]


@dataclass(frozen=True, slots=True)
class CallDetail:
    """One call in full: summary, transcript (finals, redacted), findings with acks, consent records, report."""

    call: CallSummary
    transcript: tuple[TranscriptLine, ...]
    findings: tuple[StoredFinding, ...]
    consent: tuple[ConsentRecord, ...]
    report: dict[str, Any] | None = None


WEBHOOK_PREFIX = "webhook/"
"""Outbox rows whose topic starts with this are the webhook sink's (a copy of a message for the HTTP webhook); every
other row is the alert sink's (MQTT or log). Each sink drains only its own rows, so one cannot hold up the other."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message waiting for (or done with) delivery; `topic` is relative to the sink's prefix."""

    seq: int
    call_id: str
    topic: str
    payload: str
    finding_id: str | None
    created_wall: float
    attempts: int
    last_error: str | None
    delivered_wall: float | None = None
    readable: bool = True
    """False when the stored payload cannot be decrypted (`payload` is then empty, `last_error` says why)."""


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls `list_calls` returns: started in [since, until), agent, with a finding of rule / severity ≥."""

    since: float | None = None
    until: float | None = None
    agent: str | None = None
    rule: str | None = None
    severity: str | None = None
    passed: bool | None = None
    limit: int = 100
    offset: int = 0
    statuses: tuple[CallStatus, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which call, when, through which path (api, live, cli, service); never content."""

    id: int
    wall_time: float
    actor: str
    role: str
    source: str
    action: str
    call_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PurgeCutoffs:
    """Wall-time cutoffs of the retention purge, per kind: data of ended calls started before it goes (None keeps).

    `calls`: the call rows themselves (metadata), once every content kind of theirs is past its retention.
    """

    transcripts: float | None = None
    findings: float | None = None
    reports: float | None = None
    consent: float | None = None
    audit: float | None = None
    calls: float | None = None


def summary_json(call: CallSummary) -> dict[str, Any]:
    return dataclasses.asdict(call)


def detail_json(detail: CallDetail) -> dict[str, Any]:
    """The /api/calls/<id> shape documented in docs/live-feed.md."""
    findings: list[dict[str, Any]] = []
    acknowledgements: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for stored in detail.findings:
        findings.append({**stored.data, "wall_time": stored.wall_time})
        acknowledgements.extend(
            {"finding_id": a.finding_id, "by": a.who, "at": a.wall_time, "note": a.note}
            for a in stored.acknowledgements
        )
        actions.extend(alert_action_json(a) for a in stored.actions)
    transcript = [
        {
            "speaker": t.speaker,
            "channel": t.channel,
            "index": t.utterance_index,
            "start": t.start,
            "end": t.end,
            "text": t.text,
        }
        for t in detail.transcript
    ]
    return {
        "call": summary_json(detail.call),
        "report": detail.report,
        "findings": findings,
        "transcript": transcript,
        "acknowledgements": acknowledgements,
        "alert_actions": actions,
        "consent": [dataclasses.asdict(c) for c in detail.consent],
    }


ReplicaState = Literal["live", "draining", "stopped", "reaped"]


@dataclass(frozen=True, slots=True)
class ReplicaRow:
    """One replica sharing the store: its heartbeat, lease and state (live, draining, stopped, reaped)."""

    replica_id: str
    started_wall: float
    beat_wall: float
    lease_seconds: float
    state: ReplicaState
    data_key_id: str
    reaped_by: str | None


@dataclass(frozen=True, slots=True)
class Reaped:
    """What a survivor took over from a replica whose lease lapsed: the calls it marked incomplete / replica-lost
    and how many undelivered outbox rows it now delivers."""

    replica_id: str
    calls: tuple[str, ...]
    handed_rows: int
