"""Acceptance 6 against the real service: after erasing a customer, no row, log line or API answer holds their call's
content; the audit log records the erasure; another customer's call is untouched. Also acceptance 5 end to end:
with the service's key file removed the stored transcript and evidence are unreadable."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from evaluation.synth import Turn, render_call
from monitor.cli import gdpr as gdpr_cli
from monitor.store.crypto import KEY_FILE_NAME, load_key_file
from monitor.store.database import Store
from monitor.store.trust import ENCRYPTED_COLUMNS
from rules.events import Speaker
from tests.monitor.ingest_support import VOICES, card_call, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

NUMBER = "+15557654321"
A, C = Speaker.AGENT, Speaker.CUSTOMER
OTHER_CALL = (
    Turn(A, "hello, you are through to the travel desk.", speed=130),
    Turn(C, "hi. i want to change the hotel for my holiday in portugal.", speed=140),
    Turn(A, "of course. which week are you travelling?", speed=130),
)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']{5,}", text.lower()))


def content_of(detail: dict[str, object]) -> str:
    lines = [str(t["text"]) for t in detail["transcript"]]  # type: ignore[attr-defined]
    lines += [str(f["evidence"]) for f in detail["findings"]]  # type: ignore[attr-defined]
    return "\n".join(lines)


def decrypted_rows(db: Path, data_dir: Path) -> str:
    keys = load_key_file(data_dir / KEY_FILE_NAME)
    conn = sqlite3.connect(db)
    out = []
    for table, column, aad in ENCRYPTED_COLUMNS:
        for value, aad_value in conn.execute(f"SELECT {column}, {aad} FROM {table} WHERE {column} IS NOT NULL"):
            out.append(keys.decrypt(value, f"{table}.{column}|{aad_value}"))
    conn.close()
    return "\n".join(out)


def raw_bytes(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_erasing_a_customer_leaves_no_trace_of_their_call(
    tmp_path: Path, vosk_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="callwarden")
    caplog.set_level(logging.DEBUG, logger="monitor")
    data = tmp_path / "data"
    other = render_call(OTHER_CALL, gap=0.5, tail=1.0, voices=VOICES)
    async with running_service(data, vosk_model_path) as svc:
        # One after the other: at full speed a second concurrent call is refused (ASR admission control).
        mine = await stream_twilio(svc.ws("/ingest/twilio"), card_call().audio, speed=0, parameters={"from": NUMBER})
        detail = await svc.finished_call(mine.call_id)
        theirs = await stream_twilio(svc.ws("/ingest/twilio"), other.audio, speed=0, parameters={"from": "+15550001"})
        kept = await svc.finished_call(theirs.call_id)
        assert detail["call"]["metadata"]["from"] == NUMBER
        assert any(f["rule_id"] == "pci.pan-spoken" for f in detail["findings"]), detail["findings"]
        # Words only call A's content has (not in anything stored for call B: its content, report and rule texts).
        private = words(content_of(detail)) - words(json.dumps(kept))
        assert len(private) >= 5, (private, detail["transcript"])
        db = svc.config.db_path
        conn = sqlite3.connect(db)
        sealed = [
            v
            for (v,) in conn.execute(
                "SELECT text FROM transcript WHERE call_id = ?1 UNION SELECT json FROM findings WHERE call_id = ?1 "
                "UNION SELECT metadata FROM calls WHERE call_id = ?1 UNION SELECT score_json FROM calls "
                "WHERE call_id = ?1",
                (mine.call_id,),
            )
        ]
        conn.close()
        assert len(sealed) >= 5

        args = argparse.Namespace(config=None, data_dir=data, customer=NUMBER, call=None)
        assert await asyncio.to_thread(gdpr_cli.run_erase, args) == 0

        status, body = await svc.get(f"/api/calls/{mine.call_id}")
        assert status == 404, body
        listed = {c["call_id"] for c in await svc.calls()}
        assert listed == {theirs.call_id}
        assert (await svc.get_json(f"/api/calls/{theirs.call_id}"))["transcript"] == kept["transcript"]
    dump = raw_bytes(db)
    assert not [v for v in sealed if v.encode() in dump]  # the erased ciphertexts are gone from the file and WAL
    readable = decrypted_rows(db, data).lower()
    assert not {w for w in private if re.search(rf"\b{w}\b", readable)}
    assert NUMBER.encode() not in dump and NUMBER[2:].encode() not in dump
    log_text = "\n".join(r.getMessage() for r in caplog.records).lower()
    assert NUMBER[2:] not in log_text
    assert not {w for w in private if re.search(rf"\b{w}\b", log_text)}, "call content in the service log"
    with Store.open(db) as store:
        erasures = [(e.action, e.call_id) for e in store.audit_entries(action="erase")]
        assert erasures == [("erase", mine.call_id)]
        assert store.audit_entries(action="erase_customer")[0].detail["calls"] == [mine.call_id]
    # Acceptance 5 on the service's own file: the key file removed, nothing of the remaining call reads.
    (data / KEY_FILE_NAME).unlink()
    plain = raw_bytes(db).lower()
    assert not [w for w in words(content_of(kept)) if w.encode() in plain]
