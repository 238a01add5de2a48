"""The alert workflow in the store (real SQLite): notes, assignment, resolution with reason, reopening, escalation —
each audited in the same transaction, notes redacted and encrypted, erased with their call."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store.database import Store
from monitor.store.records import StoreError, alert_state, detail_json
from monitor.store.schema import LATEST_VERSION
from tests.conftest import MosquittoBroker
from tests.monitor.store_helpers import make_finding

T0 = 1_718_000_000.0
TEST_PAN = "5555555555554444"  # a well-known test card number (../shared/data/text/test-pans.tsv)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "cw.db") as opened:
        opened.call_started("c1", protocol="twilio", started_wall=T0, metadata={"agent": "sam"})
        opened.add_findings([make_finding("c1", 0), make_finding("c1", 1)])
        yield opened


def test_note_assign_resolve_reopen_escalate_fold_into_the_alert_state(store: Store) -> None:
    fid = make_finding("c1", 0).finding_id
    store.acknowledge(fid, "dana", wall_time=T0 + 1)
    store.alert_action(fid, "note", "dana", role="supervisor", note="agent read the card back", wall_time=T0 + 2)
    store.alert_action(fid, "assign", "dana", target="lee", wall_time=T0 + 3)
    store.alert_action(fid, "escalate", "lee", target="compliance", note="second time today", wall_time=T0 + 4)
    store.alert_action(fid, "resolve", "lee", reason="agent_coached", note="coached on PCI", wall_time=T0 + 5)
    detail = store.get_call("c1")
    assert detail is not None
    stored = next(f for f in detail.findings if f.finding_id == fid)
    assert [a.action for a in stored.actions] == ["note", "assign", "escalate", "resolve"]
    state = alert_state(stored.actions)
    assert state.assignee == "lee" and not state.is_open
    assert state.resolved is not None and (state.resolved.reason, state.resolved.actor) == ("agent_coached", "lee")
    assert [e.target for e in state.escalations] == ["compliance"]
    assert [n.note for n in state.notes] == ["agent read the card back", "second time today", "coached on PCI"]

    with pytest.raises(StoreError, match="already resolved"):
        store.alert_action(fid, "resolve", "lee", reason="false_positive")
    store.alert_action(fid, "reopen", "dana", note="customer called again", wall_time=T0 + 6)
    detail = store.get_call("c1")
    assert detail is not None
    assert alert_state(next(f for f in detail.findings if f.finding_id == fid).actions).is_open
    other = next(f for f in detail.findings if f.finding_id != fid)
    assert other.actions == ()  # actions belong to their alert only

    shown = detail_json(detail)["alert_actions"]
    assert [(a["action"], a["by"]) for a in shown][:2] == [("note", "dana"), ("assign", "dana")]


def test_every_action_is_audited_without_its_note_text(store: Store) -> None:
    fid = make_finding("c1", 0).finding_id
    store.alert_action(fid, "note", "dana", role="supervisor", source="live", note="left a voicemail")
    store.alert_action(fid, "resolve", "dana", role="supervisor", reason="other", note="duplicate of call c0")
    entries = store.audit_entries(call_id="c1")
    assert [e.action for e in entries] == ["alert_resolve", "alert_note"]  # newest first
    assert entries[0].actor == "dana" and entries[0].role == "supervisor" and entries[0].source == "live"
    assert entries[0].detail == {"finding_id": fid, "reason": "other", "note_chars": len("duplicate of call c0")}
    assert all("voicemail" not in str(e.detail) and "duplicate" not in str(e.detail) for e in entries)


@pytest.mark.parametrize(
    ("action", "kwargs", "error"),
    [
        ("close", {}, "unknown alert action 'close'; use one of: note, assign, resolve, reopen, escalate"),
        ("assign", {}, "assign: name who the alert goes to"),
        ("escalate", {"target": "   "}, "escalate: name who the alert goes to"),
        ("resolve", {}, "resolve: reason must be one of false_positive, agent_coached"),
        ("resolve", {"reason": "other"}, "resolve: reason 'other' needs a note"),
        ("note", {"note": "  "}, "note: the note is empty"),
        ("reopen", {}, "reopen: the alert .* is not resolved"),
        ("note", {"note": "x" * 1001}, "note: the note may have at most 1000 characters .*got 1001"),
        ("assign", {"target": "y" * 65}, "assign: .* the target 64 .* and 65"),
    ],
)
def test_a_bad_action_is_refused_with_what_to_fix_and_nothing_is_written(
    store: Store, action: str, kwargs: dict[str, str], error: str
) -> None:
    fid = make_finding("c1", 0).finding_id
    with pytest.raises(StoreError, match=error):
        store.alert_action(fid, action, "dana", **kwargs)
    detail = store.get_call("c1")
    assert detail is not None and all(f.actions == () for f in detail.findings)
    assert store.audit_entries(call_id="c1") == []


def test_an_unknown_finding_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="note: finding 'nope' is not stored"):
        store.alert_action("nope", "note", "dana", note="x")


def test_notes_are_redacted_encrypted_and_erased_with_the_call(store: Store, tmp_path: Path) -> None:
    fid = make_finding("c1", 0).finding_id
    spaced = " ".join(TEST_PAN[i : i + 4] for i in range(0, 16, 4))
    done = store.alert_action(fid, "note", "dana", note=f"customer read {spaced} and cvv is 737, call back")
    assert TEST_PAN[:6] not in done.note and "737" not in done.note and "4444" in done.note, done.note
    raw = sqlite3.connect(tmp_path / "cw.db")
    (stored,) = raw.execute("SELECT note FROM alert_actions").fetchone()
    assert stored.startswith("cw1:") and "customer" not in stored  # encrypted at rest
    store.alert_action(fid, "escalate", "dana", target="compliance", note="see note")
    assert [r.topic for r in store.pending_outbox()][-1] == "alerts/c1/escalation"  # the escalation is published

    store.call_ended("c1", ended_wall=T0 + 60, audio_seconds=60, end_reason="stop", report={"score": 50})
    counts = store.erase_call("c1", actor="ada", source="cli")
    assert counts["alert_actions"] == 2
    assert raw.execute("SELECT COUNT(*) FROM alert_actions").fetchone()[0] == 0
    raw.close()


def test_reencryption_covers_notes(store: Store) -> None:
    fid = make_finding("c1", 0).finding_id
    store.alert_action(fid, "note", "dana", note="to be resealed")
    assert "alert_actions.note" not in store.reencrypt()  # already under the active key
    assert sum(store.key_usage().values()) >= 1


def test_the_workflow_tables_come_from_one_migration_on_each_engine() -> None:
    from monitor.store.pg_schema import PG_MIGRATIONS
    from monitor.store.schema import MIGRATIONS

    for migrations in (MIGRATIONS, PG_MIGRATIONS):
        workflow = [m for m in migrations if "alert workflow" in m.name]
        assert len(workflow) == 1 and any("CREATE TABLE alert_actions" in s for s in workflow[0].statements)
    assert MIGRATIONS[-1].version == LATEST_VERSION


@pytest.mark.timeout(180)
async def test_an_escalation_reaches_the_broker(
    tmp_path: Path, vosk_model_path: Path, mosquitto: MosquittoBroker
) -> None:
    """Through the real service and a real Mosquitto: an `alert_action` escalate sent on /live is published on
    <prefix>/alerts/<call>/escalation by the outbox sink, with who escalated to whom."""
    import asyncio
    import time

    from monitor.config.settings import Config
    from tests.conftest import free_port
    from tests.monitor.live_driver import LiveService
    from tests.monitor.service_harness import subscriber

    config = Config(port=free_port(), data_dir=tmp_path / "data", model_path=str(vosk_model_path),
                    log_level="WARNING", mqtt_url=mosquitto.url, mqtt_topic_prefix="cw-escalation")
    live = LiveService(config)
    await asyncio.to_thread(live.start)
    try:
        async with subscriber(mosquitto.host, mosquitto.port, "cw-escalation/alerts/#", client_id="esc") as got:
            await asyncio.to_thread(live.run, live.open_call("CA-esc", "sam", "payments", time.time()))
            finding = await asyncio.to_thread(live.run, live.raise_finding("CA-esc", 1, rule=0))
            reply = await asyncio.to_thread(live.act, {"type": "alert_action", "action": "escalate",
                                                       "finding_id": finding.finding_id, "target": "compliance",
                                                       "note": "second card read this week"})
            assert reply["type"] == "alert_action" and reply["by"] == "anonymous", reply
            await got.wait_until(lambda: any(t.endswith("/escalation") for t, _, _ in got.messages), timeout=15)
    finally:
        await asyncio.to_thread(live.close)
    topic, payload, _ = next(m for m in got.messages if m[0].endswith("/escalation"))
    assert topic == "cw-escalation/alerts/CA-esc/escalation"
    assert {k: payload[k] for k in ("type", "call_id", "finding_id", "to", "by", "note")} == {
        "type": "escalation", "call_id": "CA-esc", "finding_id": finding.finding_id, "to": "compliance",
        "by": "anonymous", "note": "second card read this week",
    }
    assert any(t == "cw-escalation/alerts/CA-esc" for t, _, _ in got.messages)  # the alert itself, as before
