"""The durable outbox: rows enqueued atomically with findings/scores, drained in seq order; the async facade."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store.database import Store
from monitor.store.records import StoreError
from monitor.store.rows import topic_segment
from tests.monitor.store_helpers import ENGINES, StoreTarget, make_finding, store_target

T0 = 1_718_000_000.0


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    return store_target(request, tmp_path / "cw.sqlite3")


@pytest.fixture()
def store(target: StoreTarget) -> Iterator[Store]:
    s = target.open()
    yield s
    s.close()


def test_outbox_rows_follow_enqueue_order_across_calls(store: Store) -> None:
    for call in ("a", "b"):
        store.call_started(call, protocol="twilio", started_wall=T0)
    store.add_findings([make_finding("a", 0), make_finding("a", 1)], wall_time=T0 + 1)
    store.add_findings([make_finding("b", 0)], wall_time=T0 + 2)
    store.add_findings([make_finding("a", 2)], wall_time=T0 + 3)
    store.call_ended("a", ended_wall=T0 + 4, audio_seconds=4, report={"score": 70, "passed": True})
    rows = store.pending_outbox(100)
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert [(r.call_id, r.finding_id) for r in rows] == [
        ("a", "a:pci.pan-spoken:0"),
        ("a", "a:pci.pan-spoken:1"),
        ("b", "b:pci.pan-spoken:0"),
        ("a", "a:pci.pan-spoken:2"),
        ("a", None),
    ]
    assert [r.topic for r in rows] == ["alerts/a", "alerts/a", "alerts/b", "alerts/a", "calls/a/score"]
    alert = json.loads(rows[0].payload)
    assert alert["type"] == "finding" and alert["call_id"] == "a" and alert["finding_id"] == "a:pci.pan-spoken:0"
    assert (alert["start"], alert["end"], alert["wall_time"]) == (10.0, 12.5, T0 + 1)
    score = json.loads(rows[-1].payload)
    assert score["type"] == "score" and score["score"] == 70 and score["passed"] is True
    assert score["report"] == {"score": 70, "passed": True}
    assert store.outbox_depth() == 5


def test_mark_delivered_and_failed(store: Store) -> None:
    store.call_started("a", protocol="twilio", started_wall=T0)
    seqs = store.add_findings([make_finding("a", i) for i in range(4)])
    store.mark_failed(seqs[0], "broker gone")
    store.mark_failed(seqs[0], "broker still gone")
    assert store.mark_delivered(seqs[1:3], wall_time=T0 + 9) == 2
    assert store.mark_delivered(seqs[1:3]) == 0  # already delivered: unchanged
    pending = store.pending_outbox()
    assert [r.seq for r in pending] == [seqs[0], seqs[3]]
    assert (pending[0].attempts, pending[0].last_error) == (2, "broker still gone")
    assert store.outbox_depth() == 2
    assert store.purge_delivered(T0 + 10) == 2
    assert store.pending_outbox() == pending


def test_findings_and_outbox_rows_are_atomic(store: Store) -> None:
    store.call_started("a", protocol="twilio", started_wall=T0)
    bad = make_finding("a", 1)
    object.__setattr__(bad, "finding_id", "")
    with pytest.raises(StoreError, match="has no finding_id"):
        store.add_findings([make_finding("a", 0), bad])
    assert store.outbox_depth() == 0
    detail = store.get_call("a")
    assert detail is not None and detail.findings == ()


def test_topic_segment_keeps_call_ids_to_one_level() -> None:
    assert topic_segment("CA1234abcd") == "CA1234abcd"
    assert topic_segment("a/b+c#d%e") == "a%2Fb%2Bc%23d%25e"


async def test_async_store_keeps_submission_order_and_wakes_listeners(target: StoreTarget) -> None:
    wakeups: list[int] = []
    async with await target.open_async() as astore:
        astore.add_outbox_listener(lambda: wakeups.append(1))
        await astore.call_started("a", protocol="native", started_wall=T0)
        # Many writers at once: the single worker thread applies them in the order they were submitted.
        results = await asyncio.gather(*(astore.add_findings([make_finding("a", i)]) for i in range(30)))
        seqs = [r[0] for r in results]
        assert seqs == sorted(seqs)
        rows = await astore.pending_outbox(100)
        assert [r.finding_id for r in rows] == [f"a:pci.pan-spoken:{i}" for i in range(30)]
        assert len(wakeups) == 30
        await astore.call_ended("a", ended_wall=T0 + 1, audio_seconds=1, report={"score": 1})
        assert len(wakeups) == 31
        assert await astore.mark_delivered(r.seq for r in rows) == 30
        assert await astore.outbox_depth() == 1
        assert await astore.run(Store.integrity_check) == []


def test_control_messages_go_to_the_alert_sink_and_a_separate_webhook_queue(store: Store) -> None:
    store.call_started("a", protocol="twilio", started_wall=T0)
    store.add_findings([make_finding("a", 0)], wall_time=T0 + 1)
    pause = {"type": "control", "call_id": "a", "action": "pause_recording", "at": 3.0, "sequence": 1}
    store.add_control("a", [pause], wall_time=T0 + 2, webhook=True)
    alerts = store.pending_outbox(100)
    hooks = store.pending_outbox(100, webhook=True)
    assert [r.topic for r in alerts] == ["alerts/a", "calls/a/control"]
    assert [(r.topic, json.loads(r.payload)["action"]) for r in hooks] == [
        ("webhook/calls/a/control", "pause_recording")
    ]
    store.mark_delivered([hooks[0].seq], wall_time=T0 + 3)  # the webhook's delivery leaves the MQTT rows queued
    assert store.pending_outbox(100) == alerts and store.pending_outbox(100, webhook=True) == []
    store.add_control("a", [{**pause, "action": "resume_recording", "sequence": 2}], wall_time=T0 + 4)
    assert [r.topic for r in store.pending_outbox(100)][-1] == "calls/a/control"
    assert store.pending_outbox(100, webhook=True) == []  # without a webhook configured: MQTT only
