"""Stored event logs (what `callwarden backtest` re-scores): the live service keeps each call's redacted event stream,
encrypted like the transcript, purged with it by retention and consent withdrawal, gone with an erasure, and never
holding a card or CVV digit."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from monitor.cli import gdpr as gdpr_cli
from monitor.config.trust import RetentionConfig
from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from monitor.store.gdpr import DAY, purge_cutoffs
from monitor.store.records import StoreError
from rules.eventlog import dumps_event, loads_events
from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Utterance
from tests.monitor.ingest_support import TEST_PAN, card_call, running_service
from tests.monitor.store_helpers import make_finding, make_utterance
from tests.monitor.test_no_card_data_leaves import leaks

NOW = 1_750_000_000.0
KEYS = DataKeys(b"e" * 32)


def log_lines(call_id: str, text: str) -> list[str]:
    events = [
        CallStarted(call_id, 0.0, "en", {"agent": "ann", "queue": "billing"}),
        make_utterance(call_id, 0, text, final=False),
        make_utterance(call_id, 0, text),
        AudioTick(call_id, 9.0),
        CallEnded(call_id, 10.0, "hangup"),
    ]
    return [dumps_event(e) for e in events]


def add_logged_call(store: Store, call_id: str, *, days_ago: float, text: str) -> None:
    start = NOW - days_ago * DAY
    store.call_started(call_id, protocol="twilio", started_wall=start, metadata={"agent": "ann"})
    store.add_transcript(make_utterance(call_id, 0, text), redacted_text=text)
    assert store.add_event_log(call_id, log_lines(call_id, text), wall_time=start + 60)
    store.call_ended(call_id, ended_wall=start + 60, audio_seconds=10, report={"score": 100, "passed": True})


def clear_text(db: Path) -> str:
    """Every value of the database's clear (unencrypted) text columns: ids, statuses, rule ids, outcomes."""
    conn = sqlite3.connect(db)
    values = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in conn.execute(f"SELECT * FROM {table}"):
            values += [v for v in row if isinstance(v, str) and not v.startswith("cw1:")]
    conn.close()
    return "\n".join(values)


def raw_bytes(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_event_log_round_trips_encrypted_and_compressed(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    with Store.open(db, KEYS) as store:
        add_logged_call(store, "c1", days_ago=1, text="thank you for calling the peppermint helpdesk")
        lines = store.event_log("c1")
        assert lines == log_lines("c1", "thank you for calling the peppermint helpdesk")
        events = loads_events("\n".join(lines))
        assert [type(e) for e in events] == [CallStarted, Utterance, Utterance, AudioTick, CallEnded]
        assert isinstance(events[2], Utterance) and events[2].words[1].start == pytest.approx(1.35)
        assert store.event_log("unknown") is None
        assert store.key_usage()[KEYS.active_id] >= 1
        with pytest.raises(StoreError, match="not stored"):
            store.add_event_log("nope", lines)
    assert b"peppermint" not in raw_bytes(db)
    assert DataKeys(b"x" * 32).active_id not in sqlite3.connect(db).execute("SELECT data FROM event_logs").fetchone()[0]


def test_guard_masks_a_written_card_number_in_an_event_log(tmp_path: Path) -> None:
    with Store.open(tmp_path / "cw.sqlite3", KEYS) as store:
        store.call_started("c1", protocol="raw", started_wall=NOW)
        assert store.add_event_log("c1", log_lines("c1", f"my card is {TEST_PAN} thanks"))
        text = "\n".join(store.event_log("c1") or [])
        assert TEST_PAN not in text and "#" * 16 in text
        assert store.guard_hits >= 2  # the final's text and its word, the partial's too


def test_retention_purges_the_event_log_with_the_transcript(tmp_path: Path) -> None:
    with Store.open(tmp_path / "cw.sqlite3", KEYS) as store:
        add_logged_call(store, "old", days_ago=40, text="old call words")
        add_logged_call(store, "new", days_ago=1, text="new call words")
        counts = store.purge(purge_cutoffs(RetentionConfig(transcripts_days=30), NOW))
        assert counts["event_logs"] == 1 and counts["transcript_lines"] == 1
        assert store.event_log("old") is None
        assert store.event_log("new") is not None


def test_consent_withdrawal_keeps_no_event_log(tmp_path: Path) -> None:
    with Store.open(tmp_path / "cw.sqlite3", KEYS) as store:
        add_logged_call(store, "kept", days_ago=1, text="withdrawn later")
        store.call_started("w", protocol="raw", started_wall=NOW)
        withdrawal = make_finding("w", 0, rule_id="consent.recording", kind="consent", outcome="consent_withdrawn")
        store.add_findings([withdrawal])
        assert not store.add_event_log("w", log_lines("w", "stop recording me"))  # refused after the withdrawal
        assert store.event_log("w") is None
        # A log stored before a (later) flag is purged with the transcript.
        store.add_findings([make_finding("kept", 0, rule_id="consent.recording", kind="consent",
                                         outcome="consent_withdrawn")])  # fmt: skip
        assert store.purge(purge_cutoffs(RetentionConfig(), NOW))["withdrawn_event_logs"] == 1
        assert store.event_log("kept") is None


def test_erasure_deletes_the_event_log(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    with Store.open(db, KEYS) as store:
        add_logged_call(store, "gone", days_ago=1, text="marmalade sandwich order")
        sealed = sqlite3.connect(db).execute("SELECT data FROM event_logs").fetchone()[0]
        counts = store.erase_call("gone", actor="dpo", source="cli")
        assert counts["event_logs"] == 1
        assert store.event_log("gone") is None
    assert sealed.encode() not in raw_bytes(db)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_live_service_stores_a_replayable_event_log_without_card_digits(
    tmp_path: Path, vosk_model_path: Path
) -> None:
    data = tmp_path / "data"
    async with running_service(data, vosk_model_path) as svc:
        streamed = await stream_twilio(svc.ws("/ingest/twilio"), card_call().audio, speed=0)
        detail = await svc.finished_call(streamed.call_id)
        assert any(f["rule_id"] == "pci.pan-spoken" for f in detail["findings"]), detail["findings"]
        db = svc.config.db_path
        with Store.open(db) as store:
            lines = store.event_log(streamed.call_id)
        assert lines is not None
        events = loads_events("\n".join(lines))
        kinds = {type(e) for e in events}
        assert {CallStarted, Utterance, AudioTick, CallEnded} <= kinds, kinds
        assert isinstance(events[0], CallStarted) and isinstance(events[-1], CallEnded)
        utterances = [e for e in events if isinstance(e, Utterance)]
        assert any(not u.final for u in utterances) and any(u.final for u in utterances)
        assert all(w.end >= w.start for u in utterances for w in u.words)
        assert sum(len(u.words) for u in utterances if u.final) >= 20
        # No card digit: spoken or written, in the text, the words, the digit pass's readings.
        texts = [line.lower() for line in lines]
        assert leaks(texts) == [], leaks(texts)
        assert TEST_PAN not in "\n".join(lines)
        readings = [e for e in events if isinstance(e, DigitReading)]
        assert all(w.text == "[number]" for r in readings for w in r.words)
        assert any(w.text == "[number]" for u in utterances for w in u.words)  # the card reading was masked
        # Encrypted: no word of the log stands in the database file (but those of clear columns: "completed").
        clear = clear_text(db)
        final_words = {w.text for u in utterances if u.final for w in u.words if len(w.text) >= 6} - {"[number]"}
        final_words = {w for w in final_words if w not in clear}
        dump = raw_bytes(db)
        assert len(final_words) >= 3 and not [w for w in final_words if w.encode() in dump], final_words
        # Erasure of the call removes it.
        args = argparse.Namespace(config=None, data_dir=data, customer=None, call=streamed.call_id)
        assert await asyncio.to_thread(gdpr_cli.run_erase, args) == 0
        with Store.open(db) as store:
            assert store.event_log(streamed.call_id) is None
