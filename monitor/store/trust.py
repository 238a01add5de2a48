"""The trust policy the store applies: encrypted columns, customer number keys, consent withdrawal, audit rows.

The operations themselves (audit log, erasure of a call or a customer, retention purge, re-encryption) are
methods of `Store` (monitor/store/database.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from monitor.store.backend import Connection
from monitor.store.rows import dumps
from rules.findings import Finding

ENCRYPTED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("calls", "metadata", "call_id"),
    ("calls", "score_json", "call_id"),
    ("transcript", "text", "call_id"),
    ("findings", "json", "call_id"),
    ("consent_records", "disclosed_text", "call_id"),
    ("consent_records", "answer_text", "call_id"),
    ("acknowledgements", "note", "finding_id"),
    ("alert_actions", "note", "finding_id"),
    ("outbox", "payload", "call_id"),
    ("event_logs", "data", "call_id"),
)
"""(table, column, the column whose value is bound into the ciphertext's associated data)."""

CUSTOMER_KEYS = ("from", "ani", "caller", "caller_id", "customer", "customer_number", "phone")
"""Call metadata keys holding the customer's number (Twilio/audio_fork `from`, AudioHook `ani`, custom params)."""

WITHDRAWAL_OUTCOMES = ("consent_withdrawn", "consent_refused")
"""Outcomes meaning the customer withdrew or refused consent (consent kind, and the gdpr.consent-withdrawal rule's
outcome): the consent pack says refusal means stop recording, so no transcript is stored after either.

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


def insert_audit(
    conn: Connection,
    wall: float,
    actor: str,
    role: str,
    source: str,
    action: str,
    call_id: str | None,
    detail: Mapping[str, Any],
) -> int:
    """Append one audit row (inside the caller's transaction); returns its id."""
    cur = conn.execute(
        "INSERT INTO audit_log(wall_time, actor, role, source, action, call_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id",
        (wall, actor[:128] or "anonymous", role, source, action, call_id, dumps(dict(detail))),
    )
    return int(cur.fetchone()[0])
