"""The SQLite schema of the store as numbered migrations, and the code that applies them in order."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: applied once, in `version` order, inside a transaction of its own."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema",
        (
            """CREATE TABLE calls (
                call_id       TEXT PRIMARY KEY,
                protocol      TEXT NOT NULL,
                language      TEXT NOT NULL DEFAULT 'en',
                metadata      TEXT NOT NULL DEFAULT '{}',
                agent         TEXT,
                started_wall  REAL NOT NULL,
                ended_wall    REAL,
                audio_seconds REAL NOT NULL DEFAULT 0,
                status        TEXT NOT NULL DEFAULT 'active'
                              CHECK (status IN ('active', 'completed', 'incomplete')),
                end_reason    TEXT,
                score_json    TEXT,
                passed        INTEGER CHECK (passed IN (0, 1)),
                score         REAL
            )""",
            "CREATE INDEX calls_started ON calls(started_wall)",
            "CREATE INDEX calls_agent ON calls(agent, started_wall)",
            "CREATE INDEX calls_status ON calls(status)",
            """CREATE TABLE transcript (
                call_id         TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
                speaker         TEXT NOT NULL,
                channel         INTEGER NOT NULL,
                utterance_index INTEGER NOT NULL,
                start           REAL NOT NULL,
                "end"           REAL NOT NULL,
                text            TEXT NOT NULL,
                PRIMARY KEY (call_id, speaker, channel, utterance_index)
            )""",
            """CREATE TABLE findings (
                finding_id    TEXT PRIMARY KEY,
                call_id       TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
                rule_id       TEXT NOT NULL,
                pack_id       TEXT NOT NULL,
                pack_version  TEXT NOT NULL,
                kind          TEXT NOT NULL,
                outcome       TEXT NOT NULL,
                severity      TEXT NOT NULL,
                severity_rank INTEGER NOT NULL,
                audio_start   REAL NOT NULL,
                audio_end     REAL NOT NULL,
                wall_time     REAL NOT NULL,
                json          TEXT NOT NULL
            )""",
            "CREATE INDEX findings_call ON findings(call_id, audio_start)",
            "CREATE INDEX findings_rule ON findings(rule_id, severity_rank)",
            "CREATE INDEX findings_severity ON findings(severity_rank, call_id)",
            """CREATE TABLE consent_records (
                id             INTEGER PRIMARY KEY AUTOINCREMENT,
                call_id        TEXT NOT NULL REFERENCES calls(call_id) ON DELETE CASCADE,
                finding_id     TEXT UNIQUE REFERENCES findings(finding_id) ON DELETE CASCADE,
                rule_id        TEXT NOT NULL,
                pack_id        TEXT NOT NULL,
                pack_version   TEXT NOT NULL,
                disclosed_text TEXT NOT NULL,
                disclosed_by   TEXT NOT NULL,
                disclosed_at   REAL,
                answer_text    TEXT NOT NULL,
                answered_by    TEXT NOT NULL,
                answered_at    REAL NOT NULL,
                classification TEXT NOT NULL,
                wall_time      REAL NOT NULL
            )""",
            "CREATE INDEX consent_call ON consent_records(call_id, answered_at)",
            """CREATE TABLE acknowledgements (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                finding_id TEXT NOT NULL REFERENCES findings(finding_id) ON DELETE CASCADE,
                who        TEXT NOT NULL,
                wall_time  REAL NOT NULL,
                note       TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX acks_finding ON acknowledgements(finding_id)",
            """CREATE TABLE outbox (
                seq            INTEGER PRIMARY KEY AUTOINCREMENT,
                call_id        TEXT NOT NULL,
                topic          TEXT NOT NULL,
                payload        TEXT NOT NULL,
                finding_id     TEXT,
                created_wall   REAL NOT NULL,
                attempts       INTEGER NOT NULL DEFAULT 0,
                last_error     TEXT,
                delivered_wall REAL
            )""",
            "CREATE INDEX outbox_pending ON outbox(seq) WHERE delivered_wall IS NULL",
        ),
    ),
    Migration(
        2,
        "trust: audit log, transcript erasure flag (consent withdrawn), encrypted content columns",
        (
            # When consent was withdrawn in the call: its transcript is deleted by the next purge after it ended.
            "ALTER TABLE calls ADD COLUMN transcript_erase_wall REAL",
            "CREATE INDEX calls_transcript_erase ON calls(transcript_erase_wall) "
            "WHERE transcript_erase_wall IS NOT NULL",
            "CREATE INDEX outbox_call ON outbox(call_id)",
            # Who did what, when: no content, only ids and counts (call_id is no foreign key: erasures stay logged).
            """CREATE TABLE audit_log (
                id        INTEGER PRIMARY KEY AUTOINCREMENT,
                wall_time REAL NOT NULL,
                actor     TEXT NOT NULL,
                role      TEXT NOT NULL DEFAULT '',
                source    TEXT NOT NULL,
                action    TEXT NOT NULL,
                call_id   TEXT,
                detail    TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX audit_time ON audit_log(wall_time)",
            "CREATE INDEX audit_call ON audit_log(call_id, wall_time)",
        ),
    ),
    Migration(
        3,
        "outbox dead letters: a row that cannot be delivered is set aside after N attempts",
        (
            "ALTER TABLE outbox ADD COLUMN dead_wall REAL",
            "DROP INDEX outbox_pending",
            "CREATE INDEX outbox_pending ON outbox(seq) WHERE delivered_wall IS NULL AND dead_wall IS NULL",
        ),
    ),
    Migration(
        4,
        "alert workflow: notes, assignment, resolution and escalation of alerts, append-only per finding",
        (
            # One row per supervisor action on an alert; the alert's state is the fold of its rows (records.py).
            # `note` is encrypted free text (redacted before it is written); erasure and purge cascade from findings.
            """CREATE TABLE alert_actions (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                finding_id TEXT NOT NULL REFERENCES findings(finding_id) ON DELETE CASCADE,
                call_id    TEXT NOT NULL,
                action     TEXT NOT NULL CHECK (action IN ('note', 'assign', 'resolve', 'reopen', 'escalate')),
                actor      TEXT NOT NULL,
                role       TEXT NOT NULL DEFAULT '',
                wall_time  REAL NOT NULL,
                target     TEXT NOT NULL DEFAULT '',
                reason     TEXT NOT NULL DEFAULT '',
                note       TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX alert_actions_finding ON alert_actions(finding_id, id)",
            "CREATE INDEX alert_actions_call ON alert_actions(call_id)",
        ),
    ),
    Migration(
        5,
        "replicas: calls.replica_id, outbox.owner, replicas table",
        # Used on PostgreSQL by replica fleets (monitor/store/pg_schema.py step 2 is the same); on SQLite the columns
        # stay NULL (one process), and are here so the store's SQL is the same on both engines.
        (
            "ALTER TABLE calls ADD COLUMN replica_id TEXT",
            "ALTER TABLE outbox ADD COLUMN owner TEXT",
            "CREATE INDEX calls_replica_active ON calls(replica_id) WHERE status = 'active'",
            "CREATE INDEX outbox_owner_pending ON outbox(owner, seq) "
            "WHERE delivered_wall IS NULL AND dead_wall IS NULL",
            """CREATE TABLE replicas (
                replica_id     TEXT PRIMARY KEY,
                started_wall   REAL NOT NULL,
                beat_wall REAL NOT NULL,
                lease_seconds  REAL NOT NULL,
                state          TEXT NOT NULL CHECK (state IN ('live', 'draining', 'stopped', 'reaped')),
                data_key_id    TEXT NOT NULL DEFAULT '',
                reaped_by      TEXT
            )""",
        ),
    ),
    Migration(
        6,
        "event logs: each call's redacted event stream (encrypted, compressed) for `callwarden backtest`",
        (
            # One row per call, written at its end: the rules.eventlog JSON lines, zlib-compressed, base64, then
            # encrypted like the transcript. Purged with the transcript (retention, consent withdrawal, erasure).
            """CREATE TABLE event_logs (
                call_id      TEXT PRIMARY KEY REFERENCES calls(call_id) ON DELETE CASCADE,
                events       INTEGER NOT NULL,
                created_wall REAL NOT NULL,
                data         TEXT NOT NULL
            )""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this version of Callwarden."""


def current_version(conn: sqlite3.Connection) -> int:
    """The highest applied migration (0 for a new database)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_wall REAL NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, path: str) -> list[int]:
    """Apply every migration newer than the database's version; returns the versions applied.

    `conn` must be in autocommit mode (isolation_level=None): each migration runs in its own BEGIN IMMEDIATE.
    """
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise SchemaError(
            f"database {path} has schema version {version}, newer than this Callwarden knows "
            f"({LATEST_VERSION}); upgrade Callwarden or point it at another data directory"
        )
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations(version, name, applied_wall) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(migration.version)
    return applied
