"""Replica identity and failure in the shared store: heartbeat rows, leases, and the reaper's one transaction.

A replica registers a row (`replicas`), renews `beat_wall` every few seconds, and owns the calls it runs
(`calls.replica_id`) and the outbox rows it enqueues (`outbox.owner`). When a replica's heartbeat is older than its
lease, any live replica may reap it, in ONE transaction: the conditional `UPDATE replicas … state = 'reaped'` lets
exactly one survivor win (PostgreSQL row lock; the loser's re-checked WHERE matches nothing), and the winner marks
the lost replica's active calls `incomplete / replica-lost` (never scored: a score message with no score and no
pass goes out) and takes over its undelivered outbox rows. Rows keep their seq, so each call's messages still go
out in their order. Times come from the database's clock, so replicas with skewed clocks agree on who lapsed.
Used by `Store` (monitor/store/database.py); the SQL is the same on both engines.
"""

from __future__ import annotations

import time
from typing import Any

from monitor.store.backend import Connection, PgConnection
from monitor.store.crypto import DataKeys
from monitor.store.records import Reaped, ReplicaRow
from monitor.store.rows import enqueue, score_topic

REPLICA_LOST = "replica-lost"
"""The end reason of a call whose replica died (its lease lapsed): incomplete, never scored."""
SERVICE_RESTART = "service-restart"


def db_now(conn: Connection) -> float:
    """The database's wall clock (PostgreSQL: the server's; SQLite: this process's), in epoch seconds."""
    if isinstance(conn, PgConnection):
        row: Any = conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8").fetchone()
        return float(row[0])
    return time.time()


def end_calls(
    conn: Connection, keys: DataKeys, replica_id: str, reason: str, now: float, owner: str | None
) -> tuple[str, ...]:
    """Mark the active calls of `replica_id` incomplete with `reason` (no score) and enqueue a score message for each
    that says so (status incomplete, score and passed null), owned by `owner`."""
    rows = conn.execute(
        "UPDATE calls SET status = 'incomplete', end_reason = ?, ended_wall = ? "
        "WHERE replica_id = ? AND status = 'active' RETURNING call_id, audio_seconds",
        (reason, now, replica_id),
    ).fetchall()
    for call_id, audio_seconds in sorted((str(r[0]), float(r[1])) for r in rows):
        payload = {
            "type": "score", "call_id": call_id, "status": "incomplete", "end_reason": reason, "passed": None,
            "score": None, "audio_seconds": round(audio_seconds, 3), "ended_wall": now, "report": None,
        }  # fmt: skip
        enqueue(conn, keys, call_id, score_topic(call_id), payload, None, now, owner)
    return tuple(sorted(str(r[0]) for r in rows))


def register(conn: Connection, keys: DataKeys, replica_id: str, lease_seconds: float) -> tuple[str, ...]:
    """Insert or renew this replica's row (state live). A previous run under the same id that did not stop
    cleanly left active calls: they are ended incomplete / service-restart (returned); its outbox rows stay its."""
    now = db_now(conn)
    cut: tuple[str, ...] = ()
    row = conn.execute("SELECT state FROM replicas WHERE replica_id = ?", (replica_id,)).fetchone()
    if row is not None:
        cut = end_calls(conn, keys, replica_id, SERVICE_RESTART, now, replica_id)
    conn.execute(
        "INSERT INTO replicas(replica_id, started_wall, beat_wall, lease_seconds, state, data_key_id) "
        "VALUES (?, ?, ?, ?, 'live', ?) ON CONFLICT(replica_id) DO UPDATE SET started_wall = excluded.started_wall, "
        "beat_wall = excluded.beat_wall, lease_seconds = excluded.lease_seconds, state = 'live', "
        "data_key_id = excluded.data_key_id, reaped_by = NULL",
        (replica_id, now, now, lease_seconds, keys.active_id),
    )
    return cut


def heartbeat(conn: Connection, replica_id: str, state: str) -> bool:
    """Renew the lease (and say live / draining / stopped); False when this replica was reaped meanwhile."""
    cur = conn.execute(
        "UPDATE replicas SET beat_wall = ?, state = ? WHERE replica_id = ? AND state != 'reaped'",
        (db_now(conn), state, replica_id),
    )
    return cur.rowcount == 1


def reap(conn: Connection, keys: DataKeys, survivor: str) -> list[Reaped]:
    """Take over every other replica whose lease lapsed (see the module docstring); what was taken over."""
    now = db_now(conn)
    lapsed = conn.execute(
        "SELECT replica_id FROM replicas WHERE state != 'reaped' AND replica_id != ? "
        "AND beat_wall + lease_seconds < ? ORDER BY replica_id",
        (survivor, now),
    ).fetchall()
    reaped: list[Reaped] = []
    for (lost,) in lapsed:
        won = conn.execute(
            "UPDATE replicas SET state = 'reaped', reaped_by = ? "
            "WHERE replica_id = ? AND state != 'reaped' AND beat_wall + lease_seconds < ?",
            (survivor, lost, now),
        ).rowcount
        if won != 1:
            continue  # another survivor reaped it first (or it came back)
        handed = conn.execute(
            "UPDATE outbox SET owner = ? WHERE owner = ? AND delivered_wall IS NULL AND dead_wall IS NULL",
            (survivor, lost),
        ).rowcount
        calls = end_calls(conn, keys, str(lost), REPLICA_LOST, now, survivor)
        reaped.append(Reaped(str(lost), calls, handed))
    return reaped


def replicas(conn: Connection) -> list[ReplicaRow]:
    """Every replica row, by id."""
    rows = conn.execute(
        "SELECT replica_id, started_wall, beat_wall, lease_seconds, state, data_key_id, reaped_by "
        "FROM replicas ORDER BY replica_id"
    ).fetchall()
    return [ReplicaRow(*tuple(r)) for r in rows]
