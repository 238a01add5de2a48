"""Builders shared by the store, outbox and MQTT sink tests: findings and utterances with realistic fields, and the
store targets (SQLite file, PostgreSQL database) the store's contract tests run against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from monitor.call.redaction import CallRedaction, redact_digit_reading
from monitor.store.async_store import AsyncStore
from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from rules.engine import CallMonitor
from rules.eventlog import dumps_event
from rules.events import DigitReading, Event, Speaker, Utterance, Word
from rules.findings import Finding, Severity
from rules.packs import load_packs

RULESET = load_packs()


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


ENGINES = ("sqlite", "postgresql")
"""The store's engines: the contract tests run against both (PostgreSQL: the session's real cluster)."""

TEST_KEY = DataKeys(bytes(range(32)), source="tests")
"""A fixed data key for PostgreSQL test stores (a PostgreSQL store never makes a key file)."""


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """Where a test's store lives: a SQLite file or a PostgreSQL database; `open()` opens it (again)."""

    engine: str
    location: str

    def open(self, keys: DataKeys | None = None) -> Store:
        if self.engine == "postgresql":
            return Store.open_postgres(self.location, keys or TEST_KEY)
        return Store.open(Path(self.location), keys)

    async def open_async(self, keys: DataKeys | None = None) -> AsyncStore:
        if self.engine == "postgresql":
            return await AsyncStore.open_postgres(self.location, keys or TEST_KEY)
        return await AsyncStore.open(Path(self.location), keys)

    def raw_dump(self) -> bytes:
        """Every byte the engine keeps of the data as it lies at rest (SQLite: file + WAL; PostgreSQL: every row of
        every table as text, i.e. what a dump would hold)."""
        if self.engine == "sqlite":
            db = Path(self.location)
            wal = db.with_name(db.name + "-wal")
            return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        with psycopg.connect(self.location) as conn:
            tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            rows = [
                str(r[0])
                for table in tables
                for r in conn.execute(f"SELECT row_to_json(t)::text FROM {table} t")  # type: ignore[arg-type]
            ]
        return "\n".join(rows).encode()


def store_target(request: pytest.FixtureRequest, sqlite_path: Path) -> StoreTarget:
    """The target of a test parametrized over ENGINES (request.param): `sqlite_path`, or a fresh PostgreSQL database."""
    engine = str(request.param)
    if engine == "postgresql":
        return StoreTarget(engine, str(request.getfixturevalue("pg_dsn")))
    return StoreTarget(engine, str(sqlite_path))


def session_store(store: Store, call_id: str, events: list[Event], *, started_wall: float, agent: str,
                  queue: str) -> dict[str, object]:  # fmt: skip
    """Store a call the way the live service does (monitor/call/session.py, monitor/service.py): the engine (all
    built-in packs) fed, one CallRedaction for transcript, findings, report and event log, accepted events only."""
    monitor = CallMonitor(RULESET, call_id=call_id)
    redaction = CallRedaction("en")
    lines: list[str] = []
    findings = []
    store.call_started(call_id, protocol="raw", started_wall=started_wall, metadata={"agent": agent, "queue": queue})
    for event in events:
        before = monitor.stats["accepted"]
        found = monitor.feed(event)
        accepted = monitor.stats["accepted"] != before
        if isinstance(event, Utterance):
            line, logged = redaction.line_and_event(event)
            store.add_transcript(event, redacted_text=line.text)
            if accepted:
                lines.append(dumps_event(logged))
        elif accepted:
            lines.append(dumps_event(redact_digit_reading(event) if isinstance(event, DigitReading) else event))
        findings += [redaction.finding(f) for f in found]
    store.add_findings(findings, wall_time=started_wall + 1)
    report = redaction.report(monitor.report())
    assert store.add_event_log(call_id, lines)
    store.call_ended(call_id, ended_wall=started_wall + 60, audio_seconds=60.0, report=report)
    return report
