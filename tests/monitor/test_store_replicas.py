"""Replica identity and failure in the shared PostgreSQL store (a real server): heartbeats, leases, and the reaper
that marks a lost replica's calls incomplete / replica-lost and hands its undelivered outbox rows to exactly one
survivor, each call's rows still in order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from monitor.store.database import Store
from monitor.store.records import Reaped
from tests.monitor.store_helpers import TEST_KEY, make_finding

T0 = 1_718_000_000.0
LEASE = 3.0


@pytest.fixture()
def fleet(pg_dsn: str) -> Iterator[dict[str, Store]]:
    """Five replicas' stores (ids a..e), each registered with a 3 s lease."""
    stores = {rid: Store.open_postgres(pg_dsn, TEST_KEY, replica_id=rid) for rid in "abcde"}
    for store in stores.values():
        assert store.register_replica(lease_seconds=LEASE) == ()
    yield stores
    for store in stores.values():
        store.close()


def lapse(dsn: str, replica_id: str) -> None:
    """Age a replica's heartbeat past its lease (as if it had been dead for a minute)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE replicas SET beat_wall = beat_wall - 60 WHERE replica_id = %s", (replica_id,))


def test_a_lost_replicas_calls_end_replica_lost_and_its_rows_go_to_one_survivor_in_order(
    fleet: dict[str, Store], pg_dsn: str
) -> None:
    a, b = fleet["a"], fleet["b"]
    a.call_started("x", protocol="twilio", started_wall=T0)
    a.call_started("y", protocol="twilio", started_wall=T0)
    b.call_started("z", protocol="twilio", started_wall=T0)
    a.call_started("done", protocol="twilio", started_wall=T0)
    a.call_ended("done", ended_wall=T0 + 5, audio_seconds=5, report={"score": 100, "passed": True})
    seqs = a.add_findings([make_finding("x", 0), make_finding("y", 0), make_finding("x", 1)], wall_time=T0 + 1)
    a.mark_delivered(seqs[:1])  # delivered before the crash: not handed over
    b.add_findings([make_finding("z", 0)], wall_time=T0 + 2)
    a.add_findings([make_finding("y", 1), make_finding("x", 2)], wall_time=T0 + 3)
    for rid in "cde":
        assert fleet[rid].heartbeat()
    assert b.reap_lost_replicas() == []  # nobody lapsed yet

    lapse(pg_dsn, "a")
    reaped = b.reap_lost_replicas()
    assert [(r.replica_id, r.calls) for r in reaped] == [("a", ("x", "y"))]
    assert reaped[0].handed_rows == 5  # a's undelivered rows: 4 findings + the score of "done"
    assert a.pending_outbox(100) == [] and not a.heartbeat()  # a, were it alive, owns nothing and knows it was reaped

    calls = {c.call_id: c for c in b.list_calls()}
    for cid in ("x", "y"):
        c = calls[cid]
        assert (c.status, c.end_reason, c.score, c.passed) == ("incomplete", "replica-lost", None, None)
    assert (calls["z"].status, calls["done"].status, calls["done"].passed) == ("active", "completed", True)

    rows = b.pending_outbox(100)
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    per_call: dict[str, list[str]] = {}
    for r in rows:
        payload = json.loads(r.payload)
        per_call.setdefault(r.call_id, []).append(payload.get("finding_id") or payload["type"])
    assert per_call == {
        "x": ["x:pci.pan-spoken:1", "x:pci.pan-spoken:2", "score"],  # x:0 was delivered before the crash
        "y": ["y:pci.pan-spoken:0", "y:pci.pan-spoken:1", "score"],
        "z": ["z:pci.pan-spoken:0"],
        "done": ["score"],
    }
    lost_scores = [json.loads(r.payload) for r in rows if r.call_id in ("x", "y") and r.topic.endswith("/score")]
    assert all(
        (s["status"], s["end_reason"], s["score"], s["passed"]) == ("incomplete", "replica-lost", None, None)
        for s in lost_scores
    )
    assert {r.replica_id: (r.state, r.reaped_by) for r in b.replicas()}["a"] == ("reaped", "b")
    assert b.reap_lost_replicas() == []  # reaped once


def test_exactly_one_survivor_takes_over_when_all_reap_at_once(fleet: dict[str, Store], pg_dsn: str) -> None:
    a = fleet["a"]
    for n in range(10):
        a.call_started(f"call{n}", protocol="raw", started_wall=T0)
        a.add_findings([make_finding(f"call{n}", i) for i in range(3)], wall_time=T0 + n)
    lapse(pg_dsn, "a")
    results: dict[str, list[Reaped]] = {}
    barrier = threading.Barrier(4)

    def reap(rid: str) -> None:
        barrier.wait()
        results[rid] = fleet[rid].reap_lost_replicas()

    threads = [threading.Thread(target=reap, args=(rid,)) for rid in "bcde"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [rid for rid, reaped in results.items() if reaped]
    assert len(winners) == 1, results
    (winner,) = winners
    assert results[winner][0].calls == tuple(f"call{n}" for n in range(10))
    assert results[winner][0].handed_rows == 30
    pending = {rid: len(fleet[rid].pending_outbox(1000)) for rid in "bcde"}
    assert pending == {rid: (40 if rid == winner else 0) for rid in "bcde"}  # 30 findings + 10 scores, once


def test_a_replica_restarted_under_its_id_ends_its_own_cut_calls_only(fleet: dict[str, Store], pg_dsn: str) -> None:
    fleet["a"].call_started("mine", protocol="raw", started_wall=T0)
    fleet["b"].call_started("theirs", protocol="raw", started_wall=T0)
    with Store.open_postgres(pg_dsn, TEST_KEY, replica_id="a") as again:
        assert again.register_replica(lease_seconds=LEASE) == ("mine",)
        calls = {c.call_id: (c.status, c.end_reason) for c in again.list_calls()}
    assert calls == {"mine": ("incomplete", "service-restart"), "theirs": ("active", None)}


def test_the_lease_is_real_time_on_the_database_clock(fleet: dict[str, Store]) -> None:
    """Without lapse(): a replica that stops beating is reaped once its lease (3 s) has passed, not before."""
    fleet["a"].call_started("slow", protocol="raw", started_wall=T0)
    started = time.monotonic()
    while True:
        for rid in "bcde":
            assert fleet[rid].heartbeat()
        reaped = fleet["b"].reap_lost_replicas()
        if reaped:
            break
        assert time.monotonic() - started < LEASE + 5, "not reaped within the lease + 5 s"
        time.sleep(0.25)
    assert time.monotonic() - started >= LEASE - 0.5
    assert [(r.replica_id, r.calls) for r in reaped] == [("a", ("slow",))]


def test_a_store_without_a_replica_id_cannot_heartbeat(pg_dsn: str) -> None:
    with Store.open_postgres(pg_dsn, TEST_KEY) as store, pytest.raises(Exception, match="without a replica id"):
        store.heartbeat()


def test_a_stalled_replicas_late_end_does_not_undo_replica_lost(fleet: dict[str, Store], pg_dsn: str) -> None:
    """A replica stalled past its lease (not dead) ends its call later: the call stays incomplete / replica-lost and
    is never scored (no second score message)."""
    a, b = fleet["a"], fleet["b"]
    a.call_started("paused", protocol="raw", started_wall=T0)
    lapse(pg_dsn, "a")
    assert [r.calls for r in b.reap_lost_replicas()] == [("paused",)]
    report = {"score": 100.0, "passed": True}
    assert a.call_ended("paused", ended_wall=T0 + 40, audio_seconds=40, report=report) is None
    (call,) = b.list_calls()
    assert (call.status, call.end_reason, call.score, call.passed) == ("incomplete", "replica-lost", None, None)
    scores = [r for r in b.pending_outbox(100) + a.pending_outbox(100) if r.topic.endswith("/score")]
    assert len(scores) == 1 and json.loads(scores[0].payload)["status"] == "incomplete"
