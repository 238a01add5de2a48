"""Trust operations of the store: the audit log, erasure (call, customer), retention purge, key rotation re-encryption.

Erasures and purges delete rows with SQLite's secure_delete on (freed cells are zeroed) and then checkpoint the
WAL (TRUNCATE), so erased content is not left in the database file or its write-ahead log.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from monitor.store import queries as q
from monitor.store.base import StoreBase
from monitor.store.crypto import DataKeyError, stored_key_id
from monitor.store.records import AuditEntry, CallDetail, PurgeCutoffs, StoreError
from monitor.store.rows import dumps
from rules.findings import Finding

log = logging.getLogger("monitor.store.database")

ENCRYPTED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("calls", "metadata", "call_id"),
    ("calls", "score_json", "call_id"),
    ("transcript", "text", "call_id"),
    ("findings", "json", "call_id"),
    ("consent_records", "disclosed_text", "call_id"),
    ("consent_records", "answer_text", "call_id"),
    ("acknowledgements", "note", "finding_id"),
    ("outbox", "payload", "call_id"),
)
"""(table, column, the column whose value is bound into the ciphertext's associated data)."""

CUSTOMER_KEYS = ("from", "ani", "caller", "caller_id", "customer", "customer_number", "phone")
"""Call metadata keys holding the customer's number (Twilio/audio_fork `from`, AudioHook `ani`, custom params)."""

WITHDRAWAL_OUTCOMES = ("consent_withdrawn",)
"""Outcomes meaning the customer withdrew consent (consent kind, and the gdpr.consent-withdrawal rule's outcome).

Rules also emit compliant findings (e.g. gdpr.consent-withdrawal "absent" at the end of every call), so the rule
id alone says nothing: only the outcome counts."""
REENCRYPT_BATCH = 500


def flags_transcript_erasure(finding: Finding) -> bool:
    """True for a finding that says the customer withdrew consent: the call's transcript must be deleted."""
    return finding.outcome in WITHDRAWAL_OUTCOMES


def phone_digits(number: str) -> str:
    """A phone number reduced for comparison: digits only, without an international "00" prefix."""
    digits = re.sub(r"\D", "", number)
    return digits[2:] if digits.startswith("00") else digits


class TrustOps(StoreBase):
    """Audit, erasure, purge and re-encryption; mixed into `Store`."""

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
            return _insert_audit(conn, wall, actor, role, source, action, call_id, detail or {})

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
                for table in ("transcript", "findings", "consent_records", "outbox")
            }
            conn.execute("DELETE FROM outbox WHERE call_id = ?", (call_id,))
            conn.execute("DELETE FROM calls WHERE call_id = ?", (call_id,))  # cascades to the other tables
            counts["calls"] = 1
            detail = {"rows": counts, **({"reason": reason} if reason else {})}
            _insert_audit(conn, time.time(), actor, role, source, "erase", call_id, detail)
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
            counts["withdrawn_transcript_lines"] = conn.execute(
                "DELETE FROM transcript WHERE call_id IN (SELECT call_id FROM calls "
                "WHERE status != 'active' AND transcript_erase_wall IS NOT NULL)"
            ).rowcount
            if cutoffs.transcripts is not None:
                sql = f"DELETE FROM transcript WHERE call_id IN ({ended})"
                counts["transcript_lines"] = conn.execute(sql, (cutoffs.transcripts,)).rowcount
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
                _insert_audit(conn, time.time(), actor, "", source, "purge", None, {"deleted": counts})
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
        for table, column, aad_column in ENCRYPTED_COLUMNS:
            done = 0
            while True:
                with self._tx(f"re-encrypt {table}.{column}") as conn:
                    rows = conn.execute(
                        f"SELECT rowid, {column}, {aad_column} FROM {table} WHERE {column} IS NOT NULL "
                        f"AND substr({column}, 1, {len(current)}) != ? LIMIT ?",
                        (current, REENCRYPT_BATCH),
                    ).fetchall()
                    updates = [(self._reseal(table, column, r[1], r[2]), r[0]) for r in rows]
                    conn.executemany(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", updates)
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
        """Copy the WAL into the database and truncate it; False when readers kept it from completing."""
        with self._read() as conn:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return not busy


def _insert_audit(
    conn: sqlite3.Connection,
    wall: float,
    actor: str,
    role: str,
    source: str,
    action: str,
    call_id: str | None,
    detail: Mapping[str, Any],
) -> int:
    cur = conn.execute(
        "INSERT INTO audit_log(wall_time, actor, role, source, action, call_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (wall, actor[:128] or "anonymous", role, source, action, call_id, dumps(dict(detail))),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid
