"""Durable storage of calls, redacted transcripts, findings, consent proof, acks and the alert outbox (SQLite, WAL).

One connection guarded by a lock, autocommit mode with explicit BEGIN IMMEDIATE transactions; writes that must be
atomic together (a finding and its outbox row, a call's end and its score row) share one transaction. Every text
and JSON value passes the digit guard (monitor/store/guard.py) before it is written, and content (transcripts,
finding JSON, consent texts, reports, metadata, outbox payloads) is encrypted with AES-256-GCM
(monitor/store/crypto.py);
ids, rule ids, severities and times stay clear for filtering. Erasure, retention purge, key rotation and the audit
log live in monitor/store/trust.py. For asyncio code use `monitor.store.async_store.AsyncStore` (one dedicated thread).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from monitor.store import queries as q
from monitor.store.crypto import DataKeyError, DataKeys
from monitor.store.records import (
    Acknowledgement,
    CallDetail,
    CallFilter,
    CallStatus,
    CallSummary,
    ConsentProof,
    ConsentRecord,
    OutboxRow,
    StoreError,
)
from monitor.store.rows import (
    alert_payload,
    alert_topic,
    consent_from_finding,
    dumps,
    enqueue,
    insert_consent,
    insert_finding,
    score_payload,
    score_topic,
)
from monitor.store.schema import SchemaError, migrate
from monitor.store.trust import TrustOps, flags_transcript_erasure
from rules.events import Utterance
from rules.findings import Finding
from rules.redact import Redacted

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class Store(TrustOps):
    """The synchronous store; thread-safe (one connection, one lock). Open it with `Store.open(path, keys=…)`.

    Without `keys` the data key file next to the database is used (created on first open, with a loud warning).
    """

    # -- lifecycle -------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, keys: DataKeys | None = None) -> Self:
        """Open (creating directories, file and schema as needed) the database at `path`."""
        db = Path(path).expanduser()
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the data directory {db.parent}: {exc.strerror or exc}; "
                "choose a writable data directory or fix its permissions"
            ) from exc
        try:
            conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"database {db}: SQLite refused WAL mode (got {mode!r}); use a local filesystem")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")  # erased rows are zeroed in the file, not left in free pages
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            applied = migrate(conn, str(db))
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the database {db}: {exc}; check that {db.parent} is writable and the file is a "
                "Callwarden SQLite database"
            ) from exc
        except SchemaError as exc:
            raise StoreError(str(exc)) from exc
        if applied:
            log.info("store %s: applied schema migrations %s", db, applied)
        try:
            store = cls(conn, db, keys)
        except DataKeyError as exc:
            conn.close()
            raise StoreError(str(exc)) from exc
        if 2 in applied and 1 not in applied:
            store.reencrypt()  # a database written before encryption at rest: encrypt its plaintext rows now
        return store

    # -- calls -----------------------------------------------------------------------------------------------

    def call_started(
        self,
        call_id: str,
        *,
        protocol: str,
        started_wall: float,
        metadata: Mapping[str, str] | None = None,
        language: str = "en",
    ) -> bool:
        """Record a new active call; False (and nothing changed) when `call_id` is already stored."""
        if not call_id:
            raise StoreError("call_started: call_id must not be empty")
        with self._tx(f"call {call_id}") as conn:
            meta = {str(k): self._guard.text(str(v), f"metadata.{k}") for k, v in (metadata or {}).items()}
            cur = conn.execute(
                "INSERT INTO calls(call_id, protocol, language, metadata, agent, started_wall, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'active') ON CONFLICT(call_id) DO NOTHING",
                (
                    call_id,
                    protocol,
                    language,
                    self._keys.encrypt(dumps(meta), f"calls.metadata|{call_id}"),
                    meta.get("agent"),
                    started_wall,
                ),
            )
            return cur.rowcount == 1

    def call_ended(
        self,
        call_id: str,
        *,
        ended_wall: float,
        audio_seconds: float,
        end_reason: str = "hangup",
        report: Mapping[str, Any] | None = None,
        passed: bool | None = None,
        score: float | None = None,
        status: CallStatus = "completed",
    ) -> int | None:
        """Close a call with its report; enqueues the score message. Returns its outbox seq (None without report).

        `passed`/`score` default to `report["passed"]`/`report["score"]`.
        """
        if status == "active":
            raise StoreError("call_ended: status must be 'completed' or 'incomplete'")
        report_json = None if report is None else self._guard.json_value(dict(report), "report")
        if report_json is not None:
            passed = report_json.get("passed") if passed is None else passed
            score = report_json.get("score") if score is None else score
        aad = f"calls.score_json|{call_id}"
        with self._tx(f"call {call_id}") as conn:
            cur = conn.execute(
                "UPDATE calls SET ended_wall = ?, audio_seconds = ?, end_reason = ?, status = ?, score_json = ?, "
                "passed = ?, score = ? WHERE call_id = ?",
                (
                    ended_wall,
                    audio_seconds,
                    end_reason,
                    status,
                    None if report_json is None else self._keys.encrypt(dumps(report_json), aad),
                    None if passed is None else int(bool(passed)),
                    score,
                    call_id,
                ),
            )
            if cur.rowcount != 1:
                raise StoreError(f"call_ended: call {call_id!r} is not stored (call_started was never recorded)")
            if report_json is None:
                return None
            payload = score_payload(
                call_id, report_json, status=status, end_reason=end_reason, passed=passed, score=score,
                audio_seconds=audio_seconds, ended_wall=ended_wall,
            )
            return enqueue(conn, self._keys, call_id, score_topic(call_id), payload, None, ended_wall)

    def mark_incomplete_on_startup(self, *, reason: str = "service-restart") -> list[str]:
        """Calls still active from a previous process become incomplete; returns their ids."""
        with self._tx("startup") as conn:
            ids = [r[0] for r in conn.execute("SELECT call_id FROM calls WHERE status = 'active' ORDER BY call_id")]
            conn.execute("UPDATE calls SET status = 'incomplete', end_reason = ? WHERE status = 'active'", (reason,))
        if ids:
            log.warning("store: %d call(s) left active by a previous run marked incomplete", len(ids))
        return ids

    # -- transcript, findings, consent ------------------------------------------------------------------------

    def add_transcript(self, utterance: Utterance, *, redacted_text: Redacted) -> bool:
        """Store a FINAL utterance with its redacted text (encrypted); partials are ignored (returns False).

        Nothing more is stored of a call whose customer withdrew consent (its transcript is erased by the purge).
        """
        if not utterance.final:
            return False
        with self._tx(f"call {utterance.call_id}") as conn:
            flagged = conn.execute(
                "SELECT 1 FROM calls WHERE call_id = ? AND transcript_erase_wall IS NOT NULL", (utterance.call_id,)
            ).fetchone()
            if flagged is not None:
                return False
            text = self._keys.encrypt(
                self._guard.text(redacted_text, "transcript.text"), f"transcript.text|{utterance.call_id}"
            )
            conn.execute(
                'INSERT OR REPLACE INTO transcript(call_id, speaker, channel, utterance_index, start, "end", text) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    utterance.call_id,
                    str(utterance.speaker),
                    utterance.channel,
                    utterance.index,
                    utterance.start,
                    utterance.end,
                    text,
                ),
            )
        return True

    def add_findings(self, findings: Sequence[Finding], *, wall_time: float | None = None) -> list[int]:
        """Store findings (already-stored finding_ids are skipped) and enqueue one alert each, atomically.

        Findings of kind "consent" also become consent records. Returns the outbox seqs of the new alerts.
        """
        wall = time.time() if wall_time is None else wall_time
        seqs: list[int] = []
        context = f"call {findings[0].call_id}" if findings else "findings"
        with self._tx(context) as conn:
            for finding in findings:
                if not finding.finding_id:
                    raise StoreError(f"add_findings: finding of rule {finding.rule_id!r} has no finding_id")
                data = self._guard.json_value(finding.to_json(), "finding")
                if not insert_finding(conn, self._keys, finding, data, wall):
                    continue
                if finding.kind == "consent":
                    insert_consent(conn, self._keys, self._guard, consent_from_finding(finding, wall))
                if flags_transcript_erasure(finding):
                    conn.execute(
                        "UPDATE calls SET transcript_erase_wall = ? "
                        "WHERE call_id = ? AND transcript_erase_wall IS NULL",
                        (wall, finding.call_id),
                    )
                payload = alert_payload(data, wall)
                topic = alert_topic(finding.call_id)
                seqs.append(enqueue(conn, self._keys, finding.call_id, topic, payload, finding.finding_id, wall))
        return seqs

    def add_consent_record(self, record: ConsentRecord) -> None:
        """Store a consent record that did not come from a "consent" finding."""
        with self._tx(f"call {record.call_id}") as conn:
            insert_consent(conn, self._keys, self._guard, record)

    def acknowledge(
        self, finding_id: str, who: str, *, note: str = "", wall_time: float | None = None
    ) -> Acknowledgement:
        """Record that `who` acknowledged a finding; a StoreError when the finding is unknown."""
        if not who:
            raise StoreError("acknowledge: `who` must name the supervisor")
        ack = Acknowledgement(
            finding_id, who, time.time() if wall_time is None else wall_time, self._guard.text(note, "ack.note")
        )
        with self._tx(f"finding {finding_id}") as conn:
            if conn.execute("SELECT 1 FROM findings WHERE finding_id = ?", (finding_id,)).fetchone() is None:
                raise StoreError(f"acknowledge: finding {finding_id!r} is not stored")
            conn.execute(
                "INSERT INTO acknowledgements(finding_id, who, wall_time, note) VALUES (?, ?, ?, ?)",
                (
                    ack.finding_id,
                    ack.who,
                    ack.wall_time,
                    self._keys.encrypt(ack.note, f"acknowledgements.note|{finding_id}"),
                ),
            )
        return ack

    # -- reads -----------------------------------------------------------------------------------------------

    def list_calls(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        agent: str | None = None,
        rule: str | None = None,
        severity: str | None = None,
        passed: bool | None = None,
        statuses: tuple[CallStatus, ...] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[CallSummary]:
        """Calls newest first; `rule`/`severity` keep calls with a finding of that rule and at least that severity."""
        flt = CallFilter(since, until, agent, rule, severity, passed, limit, offset, statuses)
        with self._read() as conn:
            return q.list_calls(conn, self._keys, flt)

    def get_call(self, call_id: str) -> CallDetail | None:
        """Everything stored about one call, None when unknown."""
        with self._read() as conn:
            return q.call_detail(conn, self._keys, call_id)

    def get_report(self, call_id: str) -> dict[str, Any] | None:
        """The end-of-call report as stored, None when the call is unknown or not scored."""
        with self._read() as conn:
            return q.report(conn, self._keys, call_id)

    def consent_record(self, call_id: str) -> ConsentProof | None:
        """The consent proof of one call (its records may be empty), None when the call is unknown."""
        with self._read() as conn:
            summary = q.call_summary(conn, self._keys, call_id)
            if summary is None:
                return None
            records = q.consent_records(conn, self._keys, call_id)
        return ConsentProof(call_id, summary.agent, summary.started_wall, summary.metadata, records)

    # -- outbox ----------------------------------------------------------------------------------------------

    def pending_outbox(self, limit: int = 100) -> list[OutboxRow]:
        """Undelivered rows in seq order."""
        with self._read() as conn:
            return q.pending_outbox(conn, self._keys, limit)

    def mark_delivered(self, seqs: Iterable[int], *, wall_time: float | None = None) -> int:
        """Mark rows delivered (the broker acknowledged them); returns how many were newly marked."""
        wall = time.time() if wall_time is None else wall_time
        rows = [(wall, seq) for seq in seqs]
        with self._tx("outbox") as conn:
            before = conn.total_changes
            conn.executemany("UPDATE outbox SET delivered_wall = ? WHERE seq = ? AND delivered_wall IS NULL", rows)
            return conn.total_changes - before

    def mark_failed(self, seq: int, error: str) -> None:
        """Count a failed delivery attempt of one row and keep its last error."""
        with self._tx("outbox") as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                (self._guard.text(error[:500], "outbox.last_error"), seq),
            )

    def outbox_depth(self) -> int:
        """How many rows wait for delivery."""
        with self._read() as conn:
            return q.outbox_depth(conn)

    def purge_delivered(self, before_wall: float) -> int:
        """Delete rows delivered before `before_wall` (the findings themselves stay); returns how many."""
        with self._tx("outbox") as conn:
            cur = conn.execute(
                "DELETE FROM outbox WHERE delivered_wall IS NOT NULL AND delivered_wall < ?", (before_wall,)
            )
            return cur.rowcount
