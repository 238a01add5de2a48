"""The store's contract, on SQLite and on PostgreSQL: round trips of calls/transcripts/findings/reports, restart
handling, consent proof, the digit guard; and SQLite's own duties (WAL, file modes, schema versions)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store.database import Store
from monitor.store.guard import has_long_digit_run
from monitor.store.records import StoreError
from monitor.store.schema import LATEST_VERSION
from rules.events import Speaker
from rules.findings import Severity
from tests.monitor.store_helpers import ENGINES, StoreTarget, make_finding, make_utterance, store_target

T0 = 1_718_000_000.0


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    return store_target(request, tmp_path / "data" / "callwarden.sqlite3")


@pytest.fixture()
def store(target: StoreTarget) -> Iterator[Store]:
    s = target.open()
    yield s
    s.close()


def test_open_creates_dirs_enables_wal_and_records_migrations(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "cw.sqlite3"
    with Store.open(path) as s:
        assert s.journal_mode() == "wal"
        assert s.integrity_check() == []
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, LATEST_VERSION + 1))
    conn.close()
    # Reopening applies nothing twice and keeps the data usable.
    with Store.open(path) as s:
        assert s.journal_mode() == "wal"


def test_check_writable(tmp_path: Path) -> None:
    path = tmp_path / "cw.sqlite3"
    with Store.open(path) as s:
        assert s.check_writable() is None
        assert s.integrity_check() == []  # the probe leaves nothing behind
    readonly = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    readonly.row_factory = sqlite3.Row
    reason = Store(readonly, path).check_writable()
    assert reason is not None and str(path) in reason and "readonly" in reason
    readonly.close()


def test_unwritable_data_dir_is_a_clear_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data dir should be")
    with pytest.raises(StoreError, match=r"not-a-dir.*writable"):
        Store.open(blocker / "data" / "cw.sqlite3")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cw.sqlite3"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 999"):
        Store.open(path)


def test_call_round_trip_with_transcript_findings_and_report(store: Store) -> None:
    assert store.call_started("c1", protocol="twilio", started_wall=T0, metadata={"agent": "ann", "queue": "sales"})
    assert not store.call_started("c1", protocol="twilio", started_wall=T0 + 1)  # duplicate: ignored
    assert store.add_transcript(make_utterance("c1", 0, "this call is recorded"), redacted_text="this call is recorded")
    assert not store.add_transcript(make_utterance("c1", 1, "my card", final=False), redacted_text="my card")
    store.add_transcript(
        make_utterance("c1", 1, "my card is four one one one", speaker=Speaker.CUSTOMER),
        redacted_text="my card is [card]",
    )
    findings = [make_finding("c1", 0), make_finding("c1", 1, severity=Severity.INFO, outcome="disclosed")]
    assert len(store.add_findings(findings, wall_time=T0 + 20)) == 2
    assert store.add_findings(findings, wall_time=T0 + 21) == []  # same finding_ids: stored once, alerted once
    report = {"call_id": "c1", "score": 40.0, "passed": False, "rules": [{"rule_id": "pci.pan-spoken"}]}
    seq = store.call_ended("c1", ended_wall=T0 + 60, audio_seconds=59.5, end_reason="hangup", report=report)
    assert seq is not None

    detail = store.get_call("c1")
    assert detail is not None
    call = detail.call
    assert (call.status, call.end_reason, call.passed, call.score) == ("completed", "hangup", False, 40.0)
    assert call.agent == "ann" and call.metadata == {"agent": "ann", "queue": "sales"}
    assert call.audio_seconds == 59.5 and call.ended_wall == T0 + 60
    assert call.findings_count == 1 and call.max_severity == "critical"
    assert [line.text for line in detail.transcript] == ["this call is recorded", "my card is [card]"]
    assert [f.finding_id for f in detail.findings] == ["c1:pci.pan-spoken:0", "c1:pci.pan-spoken:1"]
    assert detail.findings[0].data == findings[0].to_json()
    assert detail.findings[0].wall_time == T0 + 20
    assert detail.report == report == store.get_report("c1")
    assert store.get_call("nope") is None and store.get_report("nope") is None


def test_call_ended_for_unknown_call_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="'ghost' is not stored"):
        store.call_ended("ghost", ended_wall=T0, audio_seconds=1.0, report={"score": 1})


def test_restart_marks_calls_left_active_incomplete(target: StoreTarget) -> None:
    with target.open() as first:
        first.call_started("done", protocol="native", started_wall=T0)
        first.call_ended("done", ended_wall=T0 + 5, audio_seconds=5, report={"score": 100, "passed": True})
        first.call_started("cut", protocol="audiohook", started_wall=T0 + 1)
    with target.open() as second:
        assert second.mark_incomplete_on_startup() == ["cut"]
        assert second.mark_incomplete_on_startup() == []
        statuses = {c.call_id: (c.status, c.end_reason) for c in second.list_calls()}
    assert statuses == {"done": ("completed", "hangup"), "cut": ("incomplete", "service-restart")}


def test_list_calls_filters(store: Store) -> None:
    for i, agent in enumerate(["ann", "bob", "ann"]):
        store.call_started(f"c{i}", protocol="twilio", started_wall=T0 + i * 100, metadata={"agent": agent})
    store.add_findings([make_finding("c0", 0, severity=Severity.HIGH, rule_id="consent.asked")])
    store.add_findings([make_finding("c1", 0, severity=Severity.LOW, rule_id="disclosure.recording")])
    store.call_ended("c0", ended_wall=T0 + 50, audio_seconds=50, report={"score": 60, "passed": False})
    store.call_ended("c2", ended_wall=T0 + 250, audio_seconds=50, report={"score": 100, "passed": True})

    def ids(**kw: object) -> list[str]:
        return [c.call_id for c in store.list_calls(**kw)]  # type: ignore[arg-type]

    assert ids() == ["c2", "c1", "c0"]
    assert ids(agent="ann") == ["c2", "c0"]
    assert ids(since=T0 + 100) == ["c2", "c1"]
    assert ids(until=T0 + 100) == ["c0"]
    assert ids(rule="disclosure.recording") == ["c1"]
    assert ids(severity="medium") == ["c0"]
    assert ids(severity="low") == ["c1", "c0"]
    assert ids(rule="consent.asked", severity="critical") == []
    assert ids(passed=True) == ["c2"] and ids(passed=False) == ["c0"]
    assert ids(statuses=("active",)) == ["c1"]
    assert ids(limit=1, offset=1) == ["c1"]
    with pytest.raises(StoreError, match="unknown severity 'urgent'"):
        store.list_calls(severity="urgent")
    with pytest.raises(StoreError, match="limit"):
        store.list_calls(limit=0)


def test_consent_record_from_consent_finding(store: Store) -> None:
    store.call_started("c1", protocol="twilio", started_wall=T0, metadata={"agent": "ann"})
    consent = make_finding(
        "c1",
        3,
        rule_id="consent.recording",
        kind="consent",
        outcome="consent_given",
        severity=Severity.INFO,
        evidence="yes that's fine",
        details={
            "question": "do you agree to this call being recorded",
            "question_start": 4.5,
            "cues": [["yes", "yes"]],
        },
    )
    store.add_findings([consent], wall_time=T0 + 14)
    proof = store.consent_record("c1")
    assert proof is not None and proof.agent == "ann" and proof.started_wall == T0
    (rec,) = proof.records
    assert rec.disclosed_text == "do you agree to this call being recorded"
    assert rec.disclosed_by == "agent" and rec.disclosed_at == 4.5
    assert rec.answer_text == "yes that's fine" and rec.answered_by == "customer" and rec.answered_at == 13.0
    assert rec.classification == "consent_given"
    assert (rec.rule_id, rec.pack_id, rec.pack_version) == ("consent.recording", "consent", "1.0.0")
    assert rec.wall_time == T0 + 14 and rec.finding_id == consent.finding_id
    assert store.consent_record("unknown") is None
    detail = store.get_call("c1")
    assert detail is not None and detail.consent == proof.records


def test_acknowledgements(store: Store) -> None:
    store.call_started("c1", protocol="twilio", started_wall=T0)
    f = make_finding("c1", 0)
    store.add_findings([f])
    ack = store.acknowledge(f.finding_id, "sup-maria", note="called the customer back", wall_time=T0 + 30)
    assert (ack.who, ack.wall_time) == ("sup-maria", T0 + 30)
    detail = store.get_call("c1")
    assert detail is not None and detail.findings[0].acknowledgements == (ack,)
    with pytest.raises(StoreError, match="'missing' is not stored"):
        store.acknowledge("missing", "sup-maria")


@pytest.mark.parametrize("card", ["4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"])
def test_digit_guard_masks_card_numbers_everywhere(store: Store, target: StoreTarget, card: str) -> None:
    store.call_started("c1", protocol="native", started_wall=T0, metadata={"agent": "ann", "note": f"card {card}"})
    store.add_transcript(make_utterance("c1", 0, "x"), redacted_text=f"my card is {card} thanks")
    store.add_findings(
        [
            make_finding(
                "c1",
                0,
                evidence=f"card {card}",
                details={"digits": card, "n": int(card.replace(" ", "").replace("-", ""))},
            )
        ]
    )
    store.call_ended("c1", ended_wall=T0 + 9, audio_seconds=9, report={"score": 0, "summary": f"read {card}"})
    assert store.guard_hits >= 5
    store.close()
    dump = target.raw_dump()
    assert b"c1" in dump  # the dump holds the call's rows
    assert card.encode() not in dump
    assert card.replace(" ", "").replace("-", "").encode() not in dump


def test_digit_guard_leaves_short_numbers_and_ids_alone() -> None:
    assert not has_long_digit_run("call me at 555 123 4567")
    assert not has_long_digit_run("order 123456789012")  # 12 digits
    assert not has_long_digit_run("id a1234567890123456b")  # glued to letters: an opaque id
    assert has_long_digit_run("pan 4111-1111-1111-1111.")


def test_integrity_check_reports_corruption(tmp_path: Path) -> None:
    path = tmp_path / "cw.sqlite3"
    with Store.open(path) as s:
        s.call_started("c1", protocol="native", started_wall=T0)
        s.add_findings([make_finding("c1", i) for i in range(50)])
        assert s.integrity_check() == []
    # Break a foreign key behind the store's back (foreign_keys is off on this raw connection).
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM calls WHERE call_id = 'c1'")
    conn.commit()
    conn.close()
    with Store.open(path) as s:
        problems = s.integrity_check()
    assert problems and all("foreign key violation: findings" in p for p in problems)


def test_stored_json_never_contains_raw_pan_even_when_evidence_json_is_nested(store: Store) -> None:
    store.call_started("c1", protocol="native", started_wall=T0)
    store.add_findings([make_finding("c1", 0, details={"spans": [{"text": "5555555555554444"}]})])
    (row,) = store.pending_outbox()
    assert "5555555555554444" not in row.payload
    assert json.loads(row.payload)["details"]["spans"][0]["text"] == "#" * 16


def test_consent_record_from_the_real_consent_rule(store: Store) -> None:
    """The engine's own consent finding (bundled pack, its first positive example) becomes a complete record."""
    from rules.examples import example_findings
    from rules.packs import load_packs

    spec = next(s for s in load_packs().rules if s.kind == "consent" and s.positive)
    example = next(e for e in spec.positive if "consent_given" in e.expect)
    findings = [f for f in example_findings(spec, example) if f.kind == "consent"]
    call_id = findings[0].call_id
    store.call_started(call_id, protocol="native", started_wall=T0, metadata={"agent": "ann"})
    store.add_findings(findings, wall_time=T0 + 5)
    proof = store.consent_record(call_id)
    assert proof is not None
    given = [r for r in proof.records if r.classification == "consent_given"]
    assert len(given) == 1
    rec = given[0]
    assert rec.disclosed_text and rec.disclosed_at is not None and rec.disclosed_at <= rec.answered_at
    assert rec.answer_text and rec.answered_by == "customer"
    assert (rec.rule_id, rec.pack_version) == (spec.id, spec.pack_version)
