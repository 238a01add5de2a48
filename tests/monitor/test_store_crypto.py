"""Encryption at rest (acceptance 5): no plaintext content in the SQLite file, unreadable without the key, intact with
it; key rotation re-encrypts every row without loss; the demo key file; legacy plaintext databases get encrypted."""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sqlite3
import stat
from pathlib import Path

import pytest

from monitor.cli import keys as keys_cli
from monitor.store.crypto import KEY_FILE_NAME, DataKeyError, DataKeys, key_id, load_key_file, rotated
from monitor.store.database import Store
from monitor.store.records import ConsentRecord
from monitor.store.schema import MIGRATIONS
from rules.events import Speaker
from rules.findings import Severity
from tests.monitor.store_helpers import ENGINES, StoreTarget, make_finding, make_utterance, store_target

T0 = 1_718_000_000.0
TRANSCRIPT_WORDS = ("zanzibar", "marmalade", "periwinkle")
EVIDENCE = "quixotic evidence about the customer's overdraft"
CUSTOMER_NUMBER = "+15557654321"
SECRET_TEXTS = (*TRANSCRIPT_WORDS, "quixotic", "overdraft", "lighthouse", "tangerine", CUSTOMER_NUMBER, "nightingale")



@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    return store_target(request, tmp_path / "cw.sqlite3")


def new_keys() -> DataKeys:
    return DataKeys(secrets.token_bytes(32))


def fill(store: Store, call_id: str = "CA-enc-1") -> None:
    """One complete call touching every encrypted column."""
    store.call_started(call_id, protocol="twilio", started_wall=T0, metadata={"agent": "ann", "from": CUSTOMER_NUMBER})
    store.add_transcript(
        make_utterance(call_id, 0, " ".join(TRANSCRIPT_WORDS)), redacted_text=" ".join(TRANSCRIPT_WORDS)
    )
    store.add_findings([make_finding(call_id, 0, evidence=EVIDENCE)], wall_time=T0 + 5)
    store.add_consent_record(
        ConsentRecord(
            call_id,
            "consent.recording",
            "consent",
            "1.0.0",
            "may we record? lighthouse",
            "agent",
            3.0,
            "yes tangerine",
            "customer",
            4.0,
            "consent_given",
            T0 + 4,
        )
    )
    store.acknowledge(f"{call_id}:pci.pan-spoken:0", "sup-maria", note="nightingale", wall_time=T0 + 6)
    store.call_ended(call_id, ended_wall=T0 + 9, audio_seconds=9, report={"score": 70, "summary": "zanzibar report"})


def file_bytes(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_sqlite_file_holds_no_plaintext_content_but_clear_filter_columns(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    keys = new_keys()
    with Store.open(db, keys) as store:
        fill(store)
        dump = file_bytes(db)
    for secret in SECRET_TEXTS:
        assert secret.encode() not in dump, f"{secret!r} stored in clear"
    # What stays clear, by design, so the API can filter without decrypting: ids, rule ids, severity, agent.
    for clear in (b"CA-enc-1", b"pci.pan-spoken", b"critical", b"sup-maria"):
        assert clear in dump
    conn = sqlite3.connect(db)
    (text,) = conn.execute("SELECT text FROM transcript").fetchone()
    (finding_json,) = conn.execute("SELECT json FROM findings").fetchone()
    conn.close()
    assert text.startswith(f"cw1:{keys.active_id}:") and finding_json.startswith(f"cw1:{keys.active_id}:")


def test_without_the_key_nothing_reads_with_it_everything_reads_back_intact(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    keys = new_keys()
    with Store.open(db, keys) as store:
        fill(store)
        before = store.get_call("CA-enc-1")
    assert before is not None
    with Store.open(db, new_keys()) as wrong:  # the key removed: another key is configured
        with pytest.raises(DataKeyError, match=f"data key {keys.active_id}, which is not configured"):
            wrong.get_call("CA-enc-1")
        with pytest.raises(DataKeyError):
            wrong.get_report("CA-enc-1")
    with Store.open(db, DataKeys(keys.active)) as right:
        after = right.get_call("CA-enc-1")
    assert after == before
    assert after.report == {"score": 70, "summary": "zanzibar report"}
    assert after.transcript[0].text == " ".join(TRANSCRIPT_WORDS)
    assert after.findings[0].data["evidence"] == EVIDENCE
    assert after.findings[0].acknowledgements[0].note == "nightingale"
    assert after.consent[0].answer_text == "yes tangerine"
    assert after.call.metadata["from"] == CUSTOMER_NUMBER


def test_a_ciphertext_moved_to_another_call_fails_authentication(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    keys = new_keys()
    with Store.open(db, keys) as store:
        fill(store, "CA-a")
        fill(store, "CA-b")
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE transcript SET text = (SELECT text FROM transcript WHERE call_id = 'CA-a') WHERE call_id = 'CA-b'"
    )
    conn.commit()
    conn.close()
    with Store.open(db, keys) as store:
        assert store.get_call("CA-a") is not None
        with pytest.raises(DataKeyError, match="fails authentication"):
            store.get_call("CA-b")


def test_rotation_reencrypts_every_row_without_loss(target: StoreTarget) -> None:
    old = new_keys()
    with target.open(old) as store:
        for n in range(30):
            fill(store, f"CA-{n:02d}")
        before = {c.call_id: store.get_call(c.call_id) for c in store.list_calls(limit=100)}
        outbox_before = store.pending_outbox(1000)
    new = rotated(old)
    assert new.active_id != old.active_id and old.active_id in new.known_ids
    with target.open(new) as store:
        assert store.get_call("CA-00") == before["CA-00"]  # old rows still decrypt before re-encryption
        counts = store.reencrypt()
        assert counts["transcript.text"] == 30 and counts["findings.json"] == 30 and counts["outbox.payload"] == 60
        assert store.key_usage() == {new.active_id: 30 * 9}
        assert store.reencrypt() == {}  # idempotent
    with target.open(DataKeys(new.active)) as store:  # the old key gone entirely: everything still reads
        after = {c.call_id: store.get_call(c.call_id) for c in store.list_calls(limit=100)}
        assert after == before
        assert store.pending_outbox(1000) == outbox_before
    with target.open(DataKeys(old.active)) as store, pytest.raises(DataKeyError):
        store.get_call("CA-00")


def test_default_key_file_is_private_and_removing_it_makes_data_unreadable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data / "cw.sqlite3") as store:
        fill(store)
    key_file = data / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    saved = key_file.read_bytes()
    key_file.unlink()
    with Store.open(data / "cw.sqlite3") as store, pytest.raises(DataKeyError, match="not configured"):
        store.get_call("CA-enc-1")  # a fresh key file was made; the old data stays sealed
    key_file.write_bytes(saved)
    with Store.open(data / "cw.sqlite3") as store:
        detail = store.get_call("CA-enc-1")
        assert detail is not None and detail.findings[0].data["evidence"] == EVIDENCE


def test_a_v1_plaintext_database_is_encrypted_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_wall REAL)")
    for statement in MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_migrations VALUES (1, 'initial schema', 0)")
    conn.execute(
        "INSERT INTO calls(call_id, protocol, metadata, started_wall) VALUES ('old', 'raw', '{\"agent\":\"x\"}', 1)"
    )
    conn.execute("INSERT INTO transcript VALUES ('old', 'agent', 0, 0, 0.0, 1.0, 'zanzibar marmalade')")
    conn.commit()
    conn.close()
    keys = new_keys()
    with Store.open(db, keys) as store:
        assert store.key_usage() == {keys.active_id: 2}
        detail = store.get_call("old")
        assert detail is not None and detail.transcript[0].text == "zanzibar marmalade"
    assert b"zanzibar" not in file_bytes(db)


def test_malformed_configured_key_is_a_clear_error() -> None:
    from monitor.config.trust import EncryptionConfig
    from monitor.store.crypto import resolve_data_keys

    with pytest.raises(DataKeyError, match="32 bytes"):
        resolve_data_keys(EncryptionConfig(key=base64.b64encode(b"short").decode()), Path("/nonexistent"))
    with pytest.raises(DataKeyError, match="not base64"):
        resolve_data_keys(EncryptionConfig(key="not a key!"), Path("/nonexistent"))


def test_cli_keys_rotate_with_the_key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with Store.open(data / "callwarden.sqlite3") as store:
        fill(store)
        before = store.get_call("CA-enc-1")
    old = load_key_file(data / KEY_FILE_NAME)
    args = argparse.Namespace(config=None, data_dir=data)
    assert keys_cli.run_rotate(args) == 0
    out = json.loads(capsys.readouterr().out)
    new = load_key_file(data / KEY_FILE_NAME)
    assert out["active"] == new.active_id != old.active_id
    assert out["values_by_key"] == {new.active_id: 9}
    assert key_id(old.active) in new.known_ids  # old key kept: still decrypts anything written meanwhile
    assert stat.S_IMODE((data / KEY_FILE_NAME).stat().st_mode) == 0o600
    with Store.open(data / "callwarden.sqlite3", DataKeys(new.active)) as store:
        assert store.get_call("CA-enc-1") == before
        assert [e.action for e in store.audit_entries()] == ["keys.rotate"]
    assert keys_cli.run_status(args) == 0
    assert json.loads(capsys.readouterr().out)["values_by_key"] == {new.active_id: 9}


def test_findings_of_other_severities_are_encrypted_too(tmp_path: Path) -> None:
    db = tmp_path / "cw.sqlite3"
    with Store.open(db, new_keys()) as store:
        store.call_started("c", protocol="raw", started_wall=T0)
        store.add_findings([make_finding("c", 1, severity=Severity.INFO, speaker=Speaker.AGENT, evidence="quixotic")])
    assert b"quixotic" not in file_bytes(db)


def test_shared_mode_takes_the_key_from_the_secret_and_never_creates_a_key_file(tmp_path: Path) -> None:
    from monitor.config.trust import EncryptionConfig
    from monitor.store.crypto import from_texts, new_key_text, resolve_data_keys, write_key_file

    with pytest.raises(DataKeyError, match=r"CALLWARDEN_DATA_KEY.*never created"):
        resolve_data_keys(EncryptionConfig(), tmp_path, shared=True)
    mounted = tmp_path / "secret" / "callwarden.key"
    with pytest.raises(DataKeyError, match=r"does not exist.*mounted secret"):
        resolve_data_keys(EncryptionConfig(key_file=str(mounted)), tmp_path, shared=True)
    assert list(tmp_path.rglob("*.key")) == []  # nothing was created, neither in the data dir nor at key_file
    text = new_key_text()
    write_key_file(mounted, from_texts(text, [], "test"))
    by_file = resolve_data_keys(EncryptionConfig(key_file=str(mounted)), tmp_path, shared=True)
    by_env = resolve_data_keys(EncryptionConfig(key=text), tmp_path, shared=True)
    assert by_file.active_id == by_env.active_id
