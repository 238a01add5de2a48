"""GDPR in the store and the CLI: retention purge per kind, consent withdrawal erasing the transcript, erasure of a call
or of a customer's calls (nothing left in the file, audited, number never logged), export of one call."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pytest

from monitor.cli import gdpr as gdpr_cli
from monitor.config.trust import RetentionConfig
from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from monitor.store.gdpr import DAY, purge_cutoffs
from monitor.store.records import StoreError
from monitor.store.trust import ENCRYPTED_COLUMNS
from rules.events import Speaker
from rules.findings import Severity
from tests.monitor.store_helpers import ENGINES, StoreTarget, make_finding, make_utterance, store_target

NOW = 1_750_000_000.0
NUMBER = "+1 555-765-4321"


def add_call(store: Store, call_id: str, *, days_ago: float, number: str = "+15550001111", words: str = "") -> None:
    start = NOW - days_ago * DAY
    store.call_started(call_id, protocol="twilio", started_wall=start, metadata={"agent": "ann", "from": number})
    text = words or f"hello {call_id} words"
    store.add_transcript(make_utterance(call_id, 0, text), redacted_text=text)
    store.add_findings([make_finding(call_id, 0, evidence=f"evidence of {words or call_id}")], wall_time=start + 5)
    consent = make_finding(
        call_id, 1, rule_id="consent.recording", kind="consent", outcome="consent_given",
        severity=Severity.INFO, evidence="yes that is fine", details={"question": "may we record"},
    )  # fmt: skip
    store.add_findings([consent], wall_time=start + 6)
    store.call_ended(call_id, ended_wall=start + 60, audio_seconds=60, report={"score": 80, "passed": True})


def file_bytes(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def every_plaintext(db: Path, keys: DataKeys) -> str:
    """Every encrypted value of the database, decrypted and joined (what someone holding the key could read)."""
    conn = sqlite3.connect(db)
    texts = []
    for table, column, aad in ENCRYPTED_COLUMNS:
        for value, aad_value in conn.execute(f"SELECT {column}, {aad} FROM {table} WHERE {column} IS NOT NULL"):
            texts.append(keys.decrypt(value, f"{table}.{column}|{aad_value}"))
    conn.close()
    return "\n".join(texts)


@pytest.fixture()
def keys() -> DataKeys:
    return DataKeys(b"k" * 32)


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    return store_target(request, tmp_path / "cw.sqlite3")


def test_purge_deletes_each_kind_after_its_own_retention(target: StoreTarget, keys: DataKeys) -> None:
    retention = RetentionConfig(
        transcripts_days=30, findings_days=90, reports_days=180, consent_days=365, audit_days=10
    )
    with target.open(keys) as store:
        for call_id, age in (("new", 1), ("d40", 40), ("d100", 100), ("d200", 200), ("d400", 400)):
            add_call(store, call_id, days_ago=age)
        store.audit("sup", "view", source="api", call_id="new", wall_time=NOW - 20 * DAY)
        counts = store.purge(purge_cutoffs(retention, NOW))
        assert counts == {
            "transcript_lines": 4, "outbox_rows": 9, "findings": 6, "reports": 2, "consent_records": 1, "calls": 1,
            "audit_entries": 1,
        }  # fmt: skip
        assert [c.call_id for c in store.list_calls()] == ["new", "d40", "d100", "d200"]
        shape = {}
        for call_id in ("new", "d40", "d100", "d200"):
            d = store.get_call(call_id)
            assert d is not None
            shape[call_id] = (len(d.transcript), len(d.findings), d.report is not None, len(d.consent))
        assert shape == {
            "new": (1, 2, True, 1),
            "d40": (0, 2, True, 1),
            "d100": (0, 0, True, 1),  # consent proof outlives its finding (finding_id cleared, record kept)
            "d200": (0, 0, False, 1),
        }
        assert store.get_call("d100").consent[0].finding_id is None  # type: ignore[union-attr]
        assert [e.action for e in store.audit_entries()] == ["purge"]
        assert store.purge(purge_cutoffs(retention, NOW)) == {}  # nothing left to do, nothing audited


def test_zero_days_keeps_forever(target: StoreTarget, keys: DataKeys) -> None:
    cutoffs = purge_cutoffs(RetentionConfig(transcripts_days=0, findings_days=0, reports_days=0, consent_days=0), NOW)
    assert cutoffs.transcripts is None and cutoffs.calls is None and cutoffs.audit is not None
    with target.open(keys) as store:
        add_call(store, "ancient", days_ago=5000)
        assert store.purge(cutoffs) == {}
        assert store.get_call("ancient") is not None


def test_consent_withdrawal_stops_and_erases_the_transcript(target: StoreTarget, keys: DataKeys) -> None:
    with target.open(keys) as store:
        store.call_started("w", protocol="raw", started_wall=NOW)
        store.add_transcript(make_utterance("w", 0, "this call is recorded"), redacted_text="this call is recorded")
        compliant = make_finding(
            "w", 9, rule_id="gdpr.consent-withdrawal", kind="forbidden_phrase", outcome="absent",
            severity=Severity.INFO, evidence="",
        )  # fmt: skip
        store.add_findings([compliant], wall_time=NOW + 2)  # "no withdrawal" must not flag the call
        assert store.add_transcript(make_utterance("w", 2, "still stored"), redacted_text="still stored")
        withdrawal = make_finding(
            "w", 0, rule_id="gdpr.consent-withdrawal", kind="forbidden_phrase", outcome="consent_withdrawn",
            severity=Severity.HIGH, evidence="i withdraw my consent", speaker=Speaker.CUSTOMER,
        )  # fmt: skip
        store.add_findings([withdrawal], wall_time=NOW + 3)
        assert not store.add_transcript(make_utterance("w", 1, "more words"), redacted_text="more words")
        assert store.purge(purge_cutoffs(RetentionConfig(), NOW)) == {}  # still active: untouched
        store.call_ended("w", ended_wall=NOW + 9, audio_seconds=9, report={"score": 100})
        assert store.purge(purge_cutoffs(RetentionConfig(), NOW + 10)) == {"withdrawn_transcript_lines": 2}
        detail = store.get_call("w")
        assert detail is not None and detail.transcript == () and len(detail.findings) == 2
        assert "consent_withdrawn" in {f.outcome for f in detail.findings}  # the proof of the withdrawal stays


def test_erase_customer_leaves_nothing_of_their_calls(tmp_path: Path, keys: DataKeys) -> None:
    db = tmp_path / "cw.sqlite3"
    with Store.open(db, keys) as store:
        add_call(store, "c1", days_ago=3, number="+15557654321", words="zanzibar marmalade")
        add_call(store, "c2", days_ago=2, number="+1 (555) 765-4321", words="periwinkle lighthouse")
        add_call(store, "other", days_ago=1, number="+15550001111", words="ordinary words")
        store.acknowledge("c1:pci.pan-spoken:0", "sup-maria", note="called back")
        store.checkpoint()
        before = file_bytes(db)
        conn = sqlite3.connect(db)
        erased_ciphertexts = {
            v for (v,) in conn.execute("SELECT text FROM transcript WHERE call_id IN ('c1','c2') UNION "
                                       "SELECT json FROM findings WHERE call_id IN ('c1','c2') UNION "
                                       "SELECT metadata FROM calls WHERE call_id IN ('c1','c2') UNION "
                                       "SELECT payload FROM outbox WHERE call_id IN ('c1','c2')")
        }  # fmt: skip
        conn.close()
        assert len(erased_ciphertexts) >= 8 and all(c.encode() in before for c in erased_ciphertexts)

        assert store.customer_calls(NUMBER) == ["c1", "c2"]
        erased, active = store.erase_customer(NUMBER, actor="admin-anna", source="cli", role="admin")
        assert (erased, active) == (["c1", "c2"], [])
        assert [c.call_id for c in store.list_calls()] == ["other"]
        assert store.get_call("c1") is None and store.consent_record("c2") is None
        assert store.integrity_check() == []
        audit = store.audit_entries()
        assert [(e.action, e.call_id, e.actor) for e in audit] == [
            ("erase_customer", None, "admin-anna"),
            ("erase", "c2", "admin-anna"),
            ("erase", "c1", "admin-anna"),
        ]
        assert audit[0].detail == {"calls": ["c1", "c2"], "active": []}
    dump = file_bytes(db)
    for ciphertext in erased_ciphertexts:
        assert ciphertext.encode() not in dump  # secure_delete + WAL truncate: not in free pages, not in the WAL
    readable = every_plaintext(db, keys)  # even with the key, nothing of theirs is left
    for word in ("zanzibar", "periwinkle", "7654321", "called back"):
        assert word not in readable
    assert "ordinary words" in readable
    for form in ("7654321", "765-4321"):
        assert form.encode() not in dump  # the number is in no row, not even the audit log


def test_erasing_an_active_or_unknown_call_is_refused(target: StoreTarget, keys: DataKeys) -> None:
    with target.open(keys) as store:
        store.call_started("live", protocol="raw", started_wall=NOW, metadata={"from": NUMBER})
        with pytest.raises(StoreError, match="still active"):
            store.erase_call("live", actor="a", source="cli")
        with pytest.raises(StoreError, match="not stored"):
            store.erase_call("nope", actor="a", source="cli")
        assert store.erase_customer(NUMBER, actor="a", source="cli") == ([], ["live"])
        with pytest.raises(StoreError, match="fewer than 3 digits"):
            store.customer_calls("+1")


def test_cli_export_then_erase(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with Store.open(data / "callwarden.sqlite3") as store:
        add_call(store, "CA1", days_ago=1, words="zanzibar marmalade")
    args = argparse.Namespace(config=None, data_dir=data, call="CA1", out=tmp_path / "export.json", customer=None)
    assert gdpr_cli.run_export(args) == 0
    doc = json.loads((tmp_path / "export.json").read_text())
    assert doc["format"] == "callwarden-export/1" and doc["call"]["call_id"] == "CA1"
    assert doc["transcript"][0]["text"] == "zanzibar marmalade"
    assert doc["call"]["metadata"]["from"] == "+15550001111"
    assert {f["rule_id"] for f in doc["findings"]} == {"pci.pan-spoken", "consent.recording"}
    assert doc["consent"][0]["answer_text"] == "yes that is fine" and doc["report"]["score"] == 80
    assert gdpr_cli.run_erase(args) == 0
    assert json.loads(capsys.readouterr().out)["erased"] == ["CA1"]
    assert gdpr_cli.run_export(args) == 2
    assert "no call 'CA1'" in capsys.readouterr().err
    with Store.open(data / "callwarden.sqlite3") as store:
        actions = [(e.action, e.call_id, e.source) for e in store.audit_entries()]
        assert actions == [("erase", "CA1", "cli"), ("export", "CA1", "cli")]
    purge = argparse.Namespace(config=None, data_dir=data)
    assert gdpr_cli.run_purge(purge) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": {}}
    missing = argparse.Namespace(config=None, data_dir=tmp_path / "nowhere")
    assert gdpr_cli.run_purge(missing) == 2
    assert "no database" in capsys.readouterr().err
