"""Durable storage of calls, redacted transcripts, findings, consent proof, acks and the alert outbox (SQLite, WAL).

One connection guarded by a lock, autocommit mode with explicit BEGIN IMMEDIATE transactions; writes that must be
atomic together (a finding and its outbox row, a call's end and its score row) share one transaction. Every text
and JSON value passes the digit guard (monitor/store/guard.py) before it is written, and content (transcripts,
finding JSON, consent texts, reports, metadata, outbox payloads) is encrypted with AES-256-GCM
(monitor/store/crypto.py); ids, rule ids, severities and times stay clear for filtering.

One class holds every query and write: the connection core; calls, transcripts, findings, consent proof, acks
and the outbox; and the trust operations (audit log, erasure, retention purge, key rotation re-encryption; their
policy is monitor/store/trust.py). Erasures and purges delete rows with secure_delete on (freed cells are
zeroed) and then checkpoint the WAL (TRUNCATE), so erased content is left in neither the database file nor its
write-ahead log. For asyncio code use `monitor.store.async_store.AsyncStore` (queries off the loop, reads on
their own connection, writes that survive a failing disk).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from monitor.config.trust import EncryptionConfig
from monitor.store import pg_schema
from monitor.store import queries as q
from monitor.store import replicas as fleet
from monitor.store.backend import DB_ERRORS, Connection, PgConnection
from monitor.store.backend import safe_dsn as pg_schema_label
from monitor.store.coaching import GROUP_BY, GroupBy, coaching_report, period_before
from monitor.store.crypto import DataKeyError, DataKeys, resolve_data_keys, stored_key_id
from monitor.store.guard import DigitGuard
from monitor.store.records import (
    ALERT_ACTIONS,
    MAX_NOTE_CHARS,
    MAX_TARGET_CHARS,
    RESOLUTION_REASONS,
    Acknowledgement,
    AlertAction,
    AlertActionKind,
    AuditEntry,
    CallDetail,
    CallFilter,
    CallStatus,
    CallSummary,
    ConsentProof,
    ConsentRecord,
    OutboxRow,
    PurgeCutoffs,
    Reaped,
    ReplicaRow,
    StoredFinding,
    StoreError,
)
from monitor.store.rows import (
    alert_payload,
    alert_topic,
    consent_from_finding,
    control_topic,
    dumps,
    enqueue,
    escalation_topic,
    insert_consent,
    insert_finding,
    pack_event_log,
    route_topic,
    score_payload,
    score_topic,
    unpack_event_log,
    webhook_topic,
)
from monitor.store.schema import SchemaError, migrate
from monitor.store.trust import (
    CUSTOMER_KEYS,
    ENCRYPTED_COLUMNS,
    REENCRYPT_BATCH,
    flags_transcript_erasure,
    insert_audit,
    phone_digits,
)
from rules.events import Utterance
from rules.findings import Finding
from rules.redact import Redacted, redact_text

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
SEGMENT_MARK = "~"
"""Joins a reused call id and its segment number (`<id>~2`); outside the protocols' call id alphabet
(streams/protocols/base.py CALL_ID_PATTERN), so a segment id never collides with a real call id."""


class Store:
    """The synchronous store; thread-safe (one connection, one lock). Open it with `Store.open(path, keys=…)`
    (SQLite, the embedded default) or `Store.open_postgres(dsn, keys)` (the shared store of several replicas).

    Without `keys` the data key file next to the SQLite database is used (created on first open, with a loud
    warning); a PostgreSQL store always needs `keys` (one key for every replica, never a key file).
    """

    def __init__(self, conn: Connection, path: Path | None, keys: DataKeys | None = None) -> None:
        self._conn = conn
        self._path = path
        self._lock = threading.Lock()
        self._guard = DigitGuard()
        if keys is None:
            if path is None:
                raise DataKeyError("a PostgreSQL store needs its data keys (CALLWARDEN_DATA_KEY); none given")
            keys = resolve_data_keys(EncryptionConfig(), path.parent)
        self._keys = keys
        self.replica_id: str | None = None
        """This replica's id when several share the store (`open_postgres(replica_id=…)`): it owns the calls it
        starts and the outbox rows it enqueues, and `pending_outbox` returns only its rows."""

    @property
    def engine(self) -> str:
        """"sqlite" or "postgresql"."""
        return "postgresql" if isinstance(self._conn, PgConnection) else "sqlite"

    @property
    def path(self) -> Path:
        """The database file (SQLite only)."""
        if self._path is None:
            raise StoreError(f"{self.location} is a PostgreSQL database, not a file")
        return self._path

    @property
    def location(self) -> str:
        """Where the data is, for messages: the SQLite file, or the PostgreSQL server and database (no password)."""
        return self._conn.label if isinstance(self._conn, PgConnection) else str(self._path)

    @property
    def guard_hits(self) -> int:
        """How many long digit runs the guard masked since opening (should stay 0)."""
        return self._guard.hits

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock:
            self._conn.close()

    @property
    def keys(self) -> DataKeys:
        """The data keys this store encrypts and decrypts with."""
        return self._keys

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, context: str) -> Iterator[Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._guard.drain_fields()
                raise
            self._conn.execute("COMMIT")
            masked = self._guard.drain_fields()
        if masked:
            log.warning("store: masked long digit runs in %s (fields: %s) — redaction gap upstream", context, masked)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock:
            yield self._conn

    def journal_mode(self) -> str:
        """SQLite's journal mode of this database ("wal"); "postgresql" for a PostgreSQL store."""
        if self.engine == "postgresql":
            return "postgresql"
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- health ----------------------------------------------------------------------------------------------

    def check_writable(self) -> str | None:
        """None when a write transaction can be committed (for /readyz), else the reason.

        The probe commits (an insert and its delete): a rolled-back probe never touches the disk, so it passed on a
        full disk.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute(
                        "INSERT INTO schema_migrations(version, name, applied_wall) VALUES (-1, 'write probe', 0)"
                    )
                    self._conn.execute("DELETE FROM schema_migrations WHERE version = -1")
                    self._conn.execute("COMMIT")
                finally:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
            except DB_ERRORS as exc:
                return f"database {self.location} is not writable: {exc}"
        return None

    def integrity_check(self) -> list[str]:
        """Problems SQLite finds (integrity_check + foreign_key_check); an empty list means healthy. PostgreSQL
        enforces foreign keys on every write and checksums pages itself: only rows without their call are sought."""
        if self.engine == "postgresql":
            with self._read() as conn:
                orphans = conn.execute(
                    "SELECT f.finding_id FROM findings f LEFT JOIN calls c ON c.call_id = f.call_id "
                    "WHERE c.call_id IS NULL LIMIT 100"
                ).fetchall()
            return [f"foreign key violation: findings row {r[0]} → calls" for r in orphans]
        with self._read() as conn:
            problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check") if str(r[0]) != "ok"]
            problems += [
                f"foreign key violation: {r[0]} row {r[1]} → {r[2]}" for r in conn.execute("PRAGMA foreign_key_check")
            ]
        return problems


    # -- audit log -------------------------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        *,
        source: str,
        role: str = "",
        call_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        wall_time: float | None = None,
    ) -> int:
        """Record who did what (view, ack, export, erase, purge, rotate…) when; returns the entry id. No content."""
        wall = time.time() if wall_time is None else wall_time
        with self._tx("audit") as conn:
            return insert_audit(conn, wall, actor, role, source, action, call_id, detail or {})

    def audit_entries(
        self, *, since: float | None = None, call_id: str | None = None, action: str | None = None, limit: int = 200
    ) -> list[AuditEntry]:
        """Audit entries, newest first."""
        if not 0 < limit <= q.MAX_LIMIT:
            raise StoreError(f"audit_entries limit must be within 1..{q.MAX_LIMIT}, got {limit}")
        where, args = [], []
        for column, op, value in (("wall_time", ">=", since), ("call_id", "=", call_id), ("action", "=", action)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        sql = "SELECT id, wall_time, actor, role, source, action, call_id, detail FROM audit_log"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            AuditEntry(
                r["id"],
                r["wall_time"],
                r["actor"],
                r["role"],
                r["source"],
                r["action"],
                r["call_id"],
                json.loads(r["detail"]),
            )
            for r in rows
        ]

    # -- erasure ---------------------------------------------------------------------------------------------

    def customer_calls(self, number: str) -> list[str]:
        """Ids of the calls whose customer number (metadata from/ani/caller/…) equals `number` (digits compared)."""
        wanted = phone_digits(number)
        if len(wanted) < 3:
            raise StoreError(f"customer number {number!r} has fewer than 3 digits; give the full number")
        with self._read() as conn:
            rows = conn.execute("SELECT call_id, metadata FROM calls ORDER BY started_wall").fetchall()
            found = []
            for row in rows:
                meta = json.loads(self._keys.decrypt(row["metadata"], f"calls.metadata|{row['call_id']}"))
                if any(phone_digits(str(meta.get(k, ""))) == wanted for k in CUSTOMER_KEYS if meta.get(k)):
                    found.append(str(row["call_id"]))
        return found

    def erase_call(self, call_id: str, *, actor: str, source: str, role: str = "", reason: str = "") -> dict[str, int]:
        """Delete everything stored about one ended call (content, metadata, findings, outbox rows); audited.

        Returns how many rows of each table were deleted. A StoreError for an unknown or still active call.
        """
        with self._tx(f"erase {call_id}") as conn:
            row = conn.execute("SELECT status FROM calls WHERE call_id = ?", (call_id,)).fetchone()
            if row is None:
                raise StoreError(f"erase: call {call_id!r} is not stored")
            if row["status"] == "active":
                raise StoreError(f"erase: call {call_id!r} is still active; erase it after it ended")
            counts = {
                table: int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE call_id = ?", (call_id,)).fetchone()[0])
                for table in ("transcript", "findings", "consent_records", "outbox", "alert_actions", "event_logs")
            }
            conn.execute("DELETE FROM outbox WHERE call_id = ?", (call_id,))
            conn.execute("DELETE FROM calls WHERE call_id = ?", (call_id,))  # cascades to the other tables
            counts["calls"] = 1
            detail = {"rows": counts, **({"reason": reason} if reason else {})}
            insert_audit(conn, time.time(), actor, role, source, "erase", call_id, detail)
        self.checkpoint()
        log.info("erased call %s (%s rows) for %s", call_id, sum(counts.values()), actor)
        return counts

    def erase_customer(self, number: str, *, actor: str, source: str, role: str = "") -> tuple[list[str], list[str]]:
        """Erase every ended call of a customer number; returns (erased call ids, still active ids not erased)."""
        erased: list[str] = []
        active: list[str] = []
        for call_id in self.customer_calls(number):
            try:
                self.erase_call(call_id, actor=actor, source=source, role=role, reason="customer erasure request")
            except StoreError as exc:
                if "still active" not in str(exc):
                    raise
                active.append(call_id)
                continue
            erased.append(call_id)
        # The number itself is never written to the audit log: that would keep what was erased.
        self.audit(actor, "erase_customer", source=source, role=role, detail={"calls": erased, "active": active})
        return erased, active

    def export_call(self, call_id: str) -> tuple[CallDetail, list[AuditEntry]] | None:
        """One call's stored data (decrypted) and its audit trail; None when unknown."""
        with self._read() as conn:
            detail = q.call_detail(conn, self._keys, call_id)
        if detail is None:
            return None
        return detail, self.audit_entries(call_id=call_id, limit=q.MAX_LIMIT)

    # -- retention -------------------------------------------------------------------------------------------

    def purge(self, cutoffs: PurgeCutoffs, *, actor: str = "system", source: str = "service") -> dict[str, int]:
        """Delete data past its retention (per kind, by call start) and transcripts of calls whose consent was
        withdrawn; returns what was deleted. Active calls are never touched."""
        counts: dict[str, int] = {}
        with self._tx("purge") as conn:
            ended = "SELECT call_id FROM calls WHERE status != 'active' AND started_wall < ?"
            withdrawn = "SELECT call_id FROM calls WHERE status != 'active' AND transcript_erase_wall IS NOT NULL"
            counts["withdrawn_transcript_lines"] = conn.execute(
                f"DELETE FROM transcript WHERE call_id IN ({withdrawn})"
            ).rowcount
            counts["withdrawn_event_logs"] = conn.execute(
                f"DELETE FROM event_logs WHERE call_id IN ({withdrawn})"
            ).rowcount
            if cutoffs.transcripts is not None:  # an event log holds the transcript: it goes with it
                sql = f"DELETE FROM transcript WHERE call_id IN ({ended})"
                counts["transcript_lines"] = conn.execute(sql, (cutoffs.transcripts,)).rowcount
                sql = f"DELETE FROM event_logs WHERE call_id IN ({ended})"
                counts["event_logs"] = conn.execute(sql, (cutoffs.transcripts,)).rowcount
            if cutoffs.findings is not None:
                doomed = f"SELECT finding_id FROM findings WHERE call_id IN ({ended})"
                keep_consent = f"UPDATE consent_records SET finding_id = NULL WHERE finding_id IN ({doomed})"
                conn.execute(keep_consent, (cutoffs.findings,))
                sql = f"DELETE FROM outbox WHERE call_id IN ({ended})"
                counts["outbox_rows"] = conn.execute(sql, (cutoffs.findings,)).rowcount
                sql = f"DELETE FROM findings WHERE call_id IN ({ended})"
                counts["findings"] = conn.execute(sql, (cutoffs.findings,)).rowcount
            if cutoffs.reports is not None:
                sql = f"UPDATE calls SET score_json = NULL WHERE score_json IS NOT NULL AND call_id IN ({ended})"
                counts["reports"] = conn.execute(sql, (cutoffs.reports,)).rowcount
            if cutoffs.consent is not None:
                sql = f"DELETE FROM consent_records WHERE call_id IN ({ended})"
                counts["consent_records"] = conn.execute(sql, (cutoffs.consent,)).rowcount
            if cutoffs.calls is not None:
                conn.execute(f"DELETE FROM outbox WHERE call_id IN ({ended})", (cutoffs.calls,))
                counts["calls"] = conn.execute(
                    "DELETE FROM calls WHERE status != 'active' AND started_wall < ?", (cutoffs.calls,)
                ).rowcount
            if cutoffs.audit is not None:
                sql = "DELETE FROM audit_log WHERE wall_time < ?"
                counts["audit_entries"] = conn.execute(sql, (cutoffs.audit,)).rowcount
            counts = {k: v for k, v in counts.items() if v}
            if counts:
                insert_audit(conn, time.time(), actor, "", source, "purge", None, {"deleted": counts})
        if counts:
            self.checkpoint()
            log.info("retention purge deleted %s", counts)
        return counts

    # -- keys ------------------------------------------------------------------------------------------------

    def key_usage(self) -> dict[str, int]:
        """How many stored values each key id encrypts ("plaintext" for values written before encryption)."""
        usage: dict[str, int] = {}
        with self._read() as conn:
            for table, column, _ in ENCRYPTED_COLUMNS:
                for (value,) in conn.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
                    kid = stored_key_id(str(value))
                    usage[kid] = usage.get(kid, 0) + 1
        return usage

    def reencrypt(self) -> dict[str, int]:
        """Re-encrypt every stored value not under the active key (older keys, legacy plaintext); per column counts.

        Rows are rewritten in batches, each in its own transaction; a value under an unknown key stops it with a
        clear error (nothing of that batch is written).
        """
        counts: dict[str, int] = {}
        current = f"cw1:{self._keys.active_id}:"
        rowid = "ctid" if self.engine == "postgresql" else "rowid"
        for table, column, aad_column in ENCRYPTED_COLUMNS:
            done = 0
            while True:
                with self._tx(f"re-encrypt {table}.{column}") as conn:
                    rows = conn.execute(
                        f"SELECT {rowid}, {column}, {aad_column} FROM {table} WHERE {column} IS NOT NULL "
                        f"AND substr({column}, 1, {len(current)}) != ? LIMIT ?",
                        (current, REENCRYPT_BATCH),
                    ).fetchall()
                    updates = [(self._reseal(table, column, r[1], r[2]), r[0]) for r in rows]
                    conn.executemany(f"UPDATE {table} SET {column} = ? WHERE {rowid} = ?", updates)
                done += len(rows)
                if len(rows) < REENCRYPT_BATCH:
                    break
            if done:
                counts[f"{table}.{column}"] = done
        if counts:
            self.checkpoint()
        return counts

    def _reseal(self, table: str, column: str, stored: str, aad_value: str) -> str:
        aad = f"{table}.{column}|{aad_value}"
        try:
            return self._keys.encrypt(self._keys.decrypt(stored, aad), aad)
        except DataKeyError as exc:
            raise StoreError(f"re-encryption stopped: {exc}") from exc

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it; False when readers kept it from completing. On
        PostgreSQL nothing to do here: content columns are ciphertext, and autovacuum reclaims deleted rows."""
        if self.engine == "postgresql":
            return True
        with self._read() as conn:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return not busy


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
            _owner_only(db)
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
        except (sqlite3.Error, OSError) as exc:
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

    @classmethod
    def open_postgres(cls, dsn: str, keys: DataKeys, *, migrate: bool = False, replica_id: str | None = None) -> Self:
        """Connect to the PostgreSQL database `dsn` (libpq URL or key=value string) with the data keys every replica
        shares. With `migrate`, pending migrations are applied first (under the advisory lock); without, a schema
        older than this Callwarden is refused with the command that migrates it."""
        try:
            conn = PgConnection.connect(dsn)
        except DB_ERRORS as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL ({pg_schema_label(dsn)}): {str(exc).strip()}; check "
                "database.url / CALLWARDEN_DATABASE_URL, that the server runs and that it accepts this user"
            ) from exc
        try:
            if migrate:
                pg_schema.migrate(conn)
            pg_schema.check_schema(conn)
        except pg_schema.PgSchemaError as exc:
            conn.close()
            raise StoreError(str(exc)) from exc
        except DB_ERRORS as exc:
            conn.close()
            raise StoreError(f"{conn.label}: schema check failed: {exc}") from exc
        store = cls(conn, None, keys)
        store.replica_id = replica_id
        return store

    # -- replicas (monitor/store/replicas.py) ------------------------------------------------------------------

    def register_replica(self, *, lease_seconds: float) -> tuple[str, ...]:
        """Register this store's replica (live, heartbeat now); returns the calls a previous run under the same id
        left active, now incomplete / service-restart."""
        replica = self._own_replica()
        with self._tx(f"replica {replica}") as conn:
            return fleet.register(conn, self._keys, replica, lease_seconds)

    def heartbeat(self, state: str = "live") -> bool:
        """Renew this replica's lease and state (live, draining, stopped); False when it was reaped meanwhile."""
        replica = self._own_replica()
        with self._tx(f"replica {replica}") as conn:
            return fleet.heartbeat(conn, replica, state)

    def reap_lost_replicas(self) -> list[Reaped]:
        """Take over the replicas whose lease lapsed (their calls incomplete / replica-lost, their undelivered outbox
        rows now this replica's); exactly one survivor takes each."""
        replica = self._own_replica()
        with self._tx(f"reaper {replica}") as conn:
            return fleet.reap(conn, self._keys, replica)

    def replicas(self) -> list[ReplicaRow]:
        """Every replica that shares the store, by id."""
        with self._read() as conn:
            return fleet.replicas(conn)

    def _own_replica(self) -> str:
        if self.replica_id is None:
            raise StoreError("this store was opened without a replica id (open_postgres(replica_id=…))")
        return self.replica_id

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
                "INSERT INTO calls(call_id, protocol, language, metadata, agent, started_wall, status, replica_id) "
                "VALUES (?, ?, ?, ?, ?, ?, 'active', ?) ON CONFLICT(call_id) DO NOTHING",
                (
                    call_id,
                    protocol,
                    language,
                    self._keys.encrypt(dumps(meta), f"calls.metadata|{call_id}"),
                    meta.get("agent"),
                    started_wall,
                    self.replica_id,
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
            lost = conn.execute(
                "SELECT 1 FROM calls WHERE call_id = ? AND end_reason = ?", (call_id, fleet.REPLICA_LOST)
            ).fetchone()
            if lost is not None:  # a survivor ended it while this replica was stalled past its lease: that stands
                log.warning("call %s was ended as %s by another replica; its late end is not stored",
                            call_id, fleet.REPLICA_LOST)  # fmt: skip
                return None
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
            return enqueue(
                conn, self._keys, call_id, score_topic(call_id), payload, None, ended_wall, self.replica_id
            )

    def mark_incomplete_on_startup(self, *, reason: str = "service-restart") -> list[str]:
        """Calls still active from a previous process become incomplete; returns their ids."""
        mine = "" if self.replica_id is None else " AND replica_id = ?"  # in a fleet, only this replica's calls
        args: tuple[str, ...] = () if self.replica_id is None else (self.replica_id,)
        with self._tx("startup") as conn:
            ids = [r[0] for r in conn.execute(
                f"SELECT call_id FROM calls WHERE status = 'active'{mine} ORDER BY call_id", args
            )]
            conn.execute(f"UPDATE calls SET status = 'incomplete', end_reason = ? WHERE status = 'active'{mine}",
                         (reason, *args))
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
                'INSERT INTO transcript(call_id, speaker, channel, utterance_index, start, "end", text) '
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(call_id, speaker, channel, utterance_index) DO UPDATE "
                'SET start = excluded.start, "end" = excluded."end", text = excluded.text',
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

    def add_event_log(self, call_id: str, lines: Sequence[str], *, wall_time: float | None = None) -> bool:
        """Store a call's redacted event log (rules.eventlog JSON lines, as monitor/call/session.py records them):
        compressed and encrypted like the transcript. The digit guard checks every utterance's text and words.

        False (nothing stored) when the call's customer withdrew consent: its transcript is being erased, and
        the event log holds the transcript. A StoreError for an unknown call."""
        wall = time.time() if wall_time is None else wall_time
        data = self._keys.encrypt(pack_event_log(self._guarded_lines(lines)), f"event_logs.data|{call_id}")
        with self._tx(f"call {call_id}") as conn:
            row = conn.execute("SELECT transcript_erase_wall FROM calls WHERE call_id = ?", (call_id,)).fetchone()
            if row is None:
                raise StoreError(f"add_event_log: call {call_id!r} is not stored")
            if row["transcript_erase_wall"] is not None:
                return False
            conn.execute(
                "INSERT INTO event_logs(call_id, events, created_wall, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(call_id) DO UPDATE SET "
                "events = excluded.events, created_wall = excluded.created_wall, data = excluded.data",
                (call_id, len(lines), wall, data),
            )
        return True

    def _guarded_lines(self, lines: Sequence[str]) -> list[str]:
        """The lines with every utterance's text and word texts through the digit guard (floats are not text)."""
        out: list[str] = []
        for line in lines:
            if '"utterance"' not in line:
                out.append(line)
                continue
            event = json.loads(line)
            text = self._guard.text(event.get("text", ""), "event_log.text")
            words = [[self._guard.text(w[0], "event_log.words"), *w[1:]] for w in event.get("words", [])]
            if text == event.get("text") and words == event.get("words"):
                out.append(line)
            else:
                changed = {**event, "text": text, "words": words}
                out.append(json.dumps(changed, ensure_ascii=False, separators=(",", ":")))
        return out

    def event_log(self, call_id: str) -> list[str] | None:
        """A call's stored event log (rules.eventlog JSON lines), None when none is stored."""
        with self._read() as conn:
            row = conn.execute("SELECT data FROM event_logs WHERE call_id = ?", (call_id,)).fetchone()
        if row is None:
            return None
        return unpack_event_log(self._keys.decrypt(row["data"], f"event_logs.data|{call_id}"))

    def add_findings(
        self,
        findings: Sequence[Finding],
        *,
        wall_time: float | None = None,
        routes: Mapping[str, Sequence[str]] | None = None,
    ) -> list[int]:
        """Store findings (already-stored finding_ids are skipped) and enqueue one alert each, atomically.

        `routes` (finding id → alert webhook names) enqueues a copy of the alert for each of those webhooks in the
        same transaction. Findings of kind "consent" also become consent records. Returns the outbox seqs of the
        new alerts (not of their webhook copies).
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
                seqs.append(
                    enqueue(
                        conn, self._keys, finding.call_id, topic, payload, finding.finding_id, wall, self.replica_id
                    )
                )
                for route in (routes or {}).get(finding.finding_id, ()):
                    hook = route_topic(route, topic)
                    enqueue(conn, self._keys, finding.call_id, hook, payload, finding.finding_id, wall, self.replica_id)
        return seqs

    def add_control(
        self, call_id: str, payloads: Sequence[Mapping[str, Any]], *, wall_time: float, webhook: bool = False
    ) -> list[int]:
        """Enqueue recording control messages (pause/resume) of a call, in order, for the alert sink and (with
        `webhook`) the webhook sink; returns their outbox seqs."""
        topics = [control_topic(call_id)]
        if webhook:
            topics.append(webhook_topic(control_topic(call_id)))
        with self._tx(f"call {call_id}") as conn:
            return [
                enqueue(conn, self._keys, call_id, topic, dict(payload), None, wall_time, self.replica_id)
                for payload in payloads
                for topic in topics
            ]

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

    def alert_action(
        self,
        finding_id: str,
        action: str,
        actor: str,
        *,
        role: str = "",
        source: str = "live",
        target: str = "",
        reason: str = "",
        note: str = "",
        wall_time: float | None = None,
    ) -> AlertAction:
        """Record a supervisor's action on an alert (note, assign, resolve, reopen, escalate) and audit it, in one
        transaction; returns it as stored. StoreError (naming what to fix) for an unknown finding, a bad action,
        a missing assignee/escalation target, a resolution without a known reason, or an action that does not fit
        the alert's state (resolving a resolved alert, reopening an open one, a note without text).

        The note is free text typed by a person: it is redacted like a transcript (spoken and written card, CVV and
        bank numbers masked) and then passes the digit guard, so it never holds card data; the audit row holds no
        note text, only what was done (assignee, reason, escalation target)."""
        kind = _action_kind(action)
        if not actor:
            raise StoreError(f"{kind}: the acting user is missing")
        target = " ".join(target.split())
        reason = reason.strip()
        if len(note) > MAX_NOTE_CHARS or len(target) > MAX_TARGET_CHARS:
            raise StoreError(
                f"{kind}: the note may have at most {MAX_NOTE_CHARS} characters and the target {MAX_TARGET_CHARS} "
                f"(got {len(note)} and {len(target)}); shorten it"
            )
        text = self._guard.text(redact_text(note) if note.strip() else "", "alert_actions.note")
        _check_action(kind, target, reason, text)
        wall = time.time() if wall_time is None else wall_time
        with self._tx(f"alert {finding_id}") as conn:
            row = conn.execute("SELECT call_id FROM findings WHERE finding_id = ?", (finding_id,)).fetchone()
            if row is None:
                raise StoreError(f"{kind}: finding {finding_id!r} is not stored")
            call_id = str(row["call_id"])
            last = conn.execute(
                "SELECT action FROM alert_actions WHERE finding_id = ? AND action IN ('resolve', 'reopen') "
                "ORDER BY id DESC LIMIT 1",
                (finding_id,),
            ).fetchone()
            resolved = last is not None and last["action"] == "resolve"
            if kind == "resolve" and resolved:
                raise StoreError(f"resolve: the alert {finding_id!r} is already resolved (reopen it first)")
            if kind == "reopen" and not resolved:
                raise StoreError(f"reopen: the alert {finding_id!r} is not resolved")
            conn.execute(
                "INSERT INTO alert_actions(finding_id, call_id, action, actor, role, wall_time, target, reason, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (finding_id, call_id, kind, actor[:128], role, wall, target, reason,
                 self._keys.encrypt(text, f"alert_actions.note|{finding_id}")),
            )
            detail: dict[str, Any] = {"finding_id": finding_id}
            detail.update({k: v for k, v in (("target", target), ("reason", reason)) if v})
            if text:
                detail["note_chars"] = len(text)
            insert_audit(conn, wall, actor, role, source, f"alert_{kind}", call_id, detail)
            if kind == "escalate":
                payload = {
                    "type": "escalation", "call_id": call_id, "finding_id": finding_id, "to": target, "by": actor,
                    "at": wall, "note": text,
                }
                enqueue(conn, self._keys, call_id, escalation_topic(call_id), payload, finding_id, wall)
        return AlertAction(finding_id, call_id, kind, actor[:128], wall, target, reason, text, role)

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

    def ended_call_ids(
        self, *, since: float | None = None, until: float | None = None, agent: str | None = None
    ) -> list[str]:
        """Ids of the ended calls (completed or incomplete) started in [since, until), oldest first, optionally of
        one agent: what a backtest re-scores and an auditor's bulk export covers."""
        where, args = ["status != 'active'"], []
        for column, op, value in (("started_wall", ">=", since), ("started_wall", "<", until), ("agent", "=", agent)):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)
        sql = f"SELECT call_id FROM calls WHERE {' AND '.join(where)} ORDER BY started_wall, call_id"
        with self._read() as conn:
            return [str(row[0]) for row in conn.execute(sql, args)]

    def free_call_id(self, call_id: str) -> str:
        """`call_id` if no call is stored under it, else its next free segment id `<call_id>~<n>` (n ≥ 2): a
        reused call id (reconnect, transfer, restarted stream) is stored beside the first record, never over it."""
        with self._read() as conn:
            prefix = call_id + SEGMENT_MARK
            rows = conn.execute(
                "SELECT call_id FROM calls WHERE call_id = ? OR substr(call_id, 1, ?) = ?",
                (call_id, len(prefix), prefix),
            ).fetchall()
        taken = {str(row[0]) for row in rows}
        if call_id not in taken:
            return call_id
        n = 2
        while f"{prefix}{n}" in taken:
            n += 1
        return f"{prefix}{n}"

    def get_call_summary(self, call_id: str) -> CallSummary | None:
        """One call as listed (metadata decrypted), None when unknown."""
        with self._read() as conn:
            return q.call_summary(conn, self._keys, call_id)

    def get_call(self, call_id: str) -> CallDetail | None:
        """Everything stored about one call, None when unknown."""
        with self._read() as conn:
            return q.call_detail(conn, self._keys, call_id)

    def do_not_call_requests(
        self, *, since: float | None = None, until: float | None = None, limit: int = 1000
    ) -> list[StoredFinding]:
        """The do-not-call register: every stored do-not-call / do-not-contact request, newest first."""
        with self._read() as conn:
            return q.do_not_call_requests(conn, self._keys, since, until, limit)

    def coaching(self, *, since: float, until: float, by: str = "agent", buckets: int = 7) -> dict[str, Any]:
        """Coaching figures per agent or queue for [since, until) against the period before (monitor/store/coaching.py);
        StoreError for an unknown grouping or a bad period."""
        if by not in GROUP_BY:
            raise StoreError(f"coaching: group by one of {', '.join(GROUP_BY)}, got {by[:32]!r}")
        group: GroupBy = "agent" if by == "agent" else "queue"
        prev_since, _ = period_before(since, until)
        with self._read() as conn:
            calls = q.coaching_calls(conn, self._keys, prev_since, until, group)
        try:
            return coaching_report(calls, by=group, since=since, until=until, buckets=buckets)
        except ValueError as exc:
            raise StoreError(str(exc)) from exc

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

    def pending_outbox(self, limit: int = 100, webhook: bool | str = False) -> list[OutboxRow]:
        """Undelivered rows in seq order: the alert sink's, or (`webhook`) the webhook sinks', or those under one
        webhook's topic prefix (queries.pending_outbox)."""
        with self._read() as conn:
            return q.pending_outbox(conn, self._keys, limit, webhook, self.replica_id)

    def mark_delivered(self, seqs: Iterable[int], *, wall_time: float | None = None) -> int:
        """Mark rows delivered (the broker acknowledged them); returns how many were newly marked."""
        wall = time.time() if wall_time is None else wall_time
        rows = [(wall, seq) for seq in seqs]
        with self._tx("outbox") as conn:
            sql = "UPDATE outbox SET delivered_wall = ? WHERE seq = ? AND delivered_wall IS NULL"
            return sum(conn.execute(sql, row).rowcount for row in rows)

    def mark_failed(self, seq: int, error: str) -> None:
        """Count a failed delivery attempt of one row and keep its last error."""
        with self._tx("outbox") as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                (self._guard.text(error[:500], "outbox.last_error"), seq),
            )

    def mark_dead(self, seq: int, error: str, *, wall_time: float | None = None) -> None:
        """Set an undeliverable row aside (dead letter): it is no longer pending; the row and its error stay."""
        wall = time.time() if wall_time is None else wall_time
        with self._tx("outbox") as conn:
            conn.execute(
                "UPDATE outbox SET dead_wall = ?, last_error = ? WHERE seq = ? AND delivered_wall IS NULL",
                (wall, self._guard.text(error[:500], "outbox.last_error"), seq),
            )

    def outbox_depth(self) -> int:
        """How many rows wait for delivery."""
        with self._read() as conn:
            return q.outbox_depth(conn, self.replica_id)

    def purge_delivered(self, before_wall: float) -> int:
        """Delete rows delivered before `before_wall` (the findings themselves stay); returns how many."""
        with self._tx("outbox") as conn:
            cur = conn.execute(
                "DELETE FROM outbox WHERE delivered_wall IS NOT NULL AND delivered_wall < ?", (before_wall,)
            )
            return cur.rowcount


def _action_kind(action: str) -> AlertActionKind:
    for kind in ALERT_ACTIONS:
        if action == kind:
            return kind
    raise StoreError(f"unknown alert action {action[:32]!r}; use one of: {', '.join(ALERT_ACTIONS)}")


def _check_action(kind: AlertActionKind, target: str, reason: str, note: str) -> None:
    """The arguments each action needs (StoreError naming what is missing)."""
    if kind in ("assign", "escalate") and not target:
        raise StoreError(f"{kind}: name who the alert goes to (`target`)")
    if kind == "resolve" and reason not in RESOLUTION_REASONS:
        raise StoreError(f"resolve: reason must be one of {', '.join(RESOLUTION_REASONS)}, got {reason[:32]!r}")
    if kind == "resolve" and reason == "other" and not note:
        raise StoreError("resolve: reason 'other' needs a note saying why")
    if kind == "note" and not note:
        raise StoreError("note: the note is empty")


def _owner_only(db: Path) -> None:
    """Create the database file readable by its owner only (0600), and tighten an existing one and its WAL and
    shared-memory files: the clear columns hold agents and the audit log. SQLite gives -wal/-shm the database's
    mode when it creates them."""
    os.close(os.open(db, os.O_CREAT | os.O_RDWR, 0o600))
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
