"""Acceptance (issue #18): three replicas behind HAProxy on PostgreSQL and a broker (Mosquitto, and a three-node
nats-server cluster), six calls streamed at real time through HAProxy; during them one replica is killed (SIGKILL)
and another drained (SIGTERM). Nothing is lost, the killed replica's calls are incomplete / replica-lost within the
lease, the drained calls run to their end and score as the undisturbed ones, new calls during the drain go to the
remaining replica, and every replica shows every call with the same data key."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.cluster_support import Fleet, fleet
from tests.monitor.service_harness import card_call, get_json, subscriber
from tests.monitor.test_pci_scan import live_client
from tests.monitor.test_service_shutdown import feed_until_closed

pytestmark = pytest.mark.slow
LEASE = 8.0  # a loaded 2-core test machine can stall a replica's beat for seconds; production default 15 s
KILL_AT = 9.0  # seconds into the calls: after the disclosure, before the card number (read at ~22 s)


def verdict(detail: dict[str, Any]) -> tuple[Any, ...]:
    c = detail["call"]
    return c["status"], c["score"], c["passed"], sorted({(f["rule_id"], f["outcome"]) for f in detail["findings"]})


async def wait_until(predicate: Any, timeout: float, what: str) -> float:
    """Seconds until `predicate()` (sync or async) held; a TimeoutError naming `what` otherwise."""
    started = time.monotonic()
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("broker", ["mosquitto", "nats"])
async def test_kill_and_drain_under_six_live_calls_through_haproxy(
    vosk_model_path: Path, espeak: str, shared_data: Path, broker: str
) -> None:
    prefix = f"cluster-{broker}"
    call = card_call("5555555555554444", digit_voice="jackson", late=True)
    calls = [f"CAcluster{broker[:4]}{n:023d}" for n in range(6)]
    late_calls = [f"CAclusterlate{broker[:4]}{n:019d}" for n in range(2)]
    # max_asr_lag 0: admission does not refuse calls when this shared machine is slow (the calls are the test)
    with fleet(vosk_model_path, broker=broker, lease_seconds=LEASE, prefix=prefix, max_asr_lag=0) as f:
        host, port = f.broker.host_port
        async with subscriber(host, port, f"{prefix}/#", client_id=f"cluster-test-{broker}") as received:
            report = await run_scenario(f, call, calls, late_calls, received, prefix)
    print(f"\n[{broker}] " + json.dumps(report, default=str))


async def run_scenario(
    f: Fleet, call: Any, calls: list[str], late_calls: list[str], received: Any, prefix: str
) -> dict[str, Any]:
    lb = f"ws://{f.lb}/ingest/twilio"
    feeders = {}
    for cid in calls:  # staggered, so leastconn sees each connection before the next
        feeders[cid] = asyncio.create_task(feed_until_closed(lb, call.call.audio, cid))
        await wait_until(
            lambda cid=cid: f.replica_of(cid) is not None or feeders[cid].done(), 30, f"call {cid} stored"
        )
        assert not feeders[cid].done(), (cid, feeders[cid].result())
    placement = {cid: f.replica_of(cid) for cid in calls}
    held = Counter(placement.values())
    assert sorted(held.values()) == [2, 2, 2], placement  # leastconn: two calls per replica

    # Every replica shows all six calls: history from PostgreSQL, live view over the broker; one data key.
    statuses = [await get_json(f"http://{r.base}/api/status") for r in f.replicas]
    assert len({s["data_key_id"] for s in statuses}) == 1, statuses
    for r in f.replicas:
        listed = {c["call_id"] for c in (await get_json(f"http://{r.base}/api/calls"))["calls"]}
        assert set(calls) <= listed, (r.replica_id, listed)
        async with live_client(f"ws://{r.base}/live") as live:
            await wait_until(lambda live=live: bool(live), 10, "live snapshot")
            snapshot = json.loads(live[0])
        assert snapshot["type"] == "snapshot"
        assert set(calls) <= {c["call_id"] for c in snapshot["calls"]}, (r.replica_id, snapshot["calls"])

    await asyncio.sleep(max(0.0, KILL_AT - 6 * 0.5))
    victim, drainer, survivor = f.replicas
    assert victim.proc is not None and drainer.proc is not None
    victim.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    drainer.proc.send_signal(signal.SIGTERM)

    # The drainer leaves HAProxy's rotation (its /readyz is 503), the dead one too; new calls go to the survivor.
    out_of_rotation = await wait_until(
        lambda: f.in_rotation() == {"replica1": False, "replica2": False, "replica3": True}, 15, "rotation"
    )
    drain_listed = {c["call_id"] for c in (await get_json(f"http://{drainer.base}/api/calls"))["calls"]}
    for cid in late_calls:
        feeders[cid] = asyncio.create_task(feed_until_closed(lb, card_call("378282246310005").call.audio, cid))
    await wait_until(lambda: all(f.replica_of(c) for c in late_calls), 20, "late calls stored")
    late_placement = {cid: f.replica_of(cid) for cid in late_calls}

    victims = [c for c in calls if placement[c] == victim.replica_id]
    drained = [c for c in calls if placement[c] == drainer.replica_id]
    undisturbed = [c for c in calls if placement[c] == survivor.replica_id]

    async def victims_lost() -> bool:
        details = [await get_json(f"http://{survivor.base}/api/calls/{c}") for c in victims]
        return all(d["call"]["status"] != "active" for d in details)

    await wait_until(victims_lost, LEASE * 4 + 10, "the killed replica's calls ended")
    lost_after = time.monotonic() - killed  # an upper bound: the rotation wait and the late calls came first
    outcomes = await asyncio.wait_for(asyncio.gather(*feeders.values()), 240)
    drainer_code = await asyncio.wait_for(asyncio.to_thread(drainer.proc.wait), 120)
    details = {}
    for cid in [*calls, *late_calls]:
        async with asyncio.timeout(60):
            while (d := await get_json(f"http://{survivor.base}/api/calls/{cid}"))["call"]["status"] == "active":
                await asyncio.sleep(0.2)
        details[cid] = d
    await asyncio.sleep(2.0)  # the last QoS 1 messages reach the subscriber

    # Killed: incomplete / replica-lost within the lease (+ one beat), never scored; what it stored still went out.
    for cid in victims:
        c = details[cid]["call"]
        assert (c["status"], c["end_reason"], c["score"], c["passed"]) == ("incomplete", "replica-lost", None, None)
        delivered = {p["finding_id"] for p, _ in received.findings(cid)}
        assert {x["finding_id"] for x in details[cid]["findings"]} <= delivered, cid
    assert lost_after < LEASE + LEASE / 3 + 4.0, lost_after
    # Drained: ran to its natural end, scored exactly as the undisturbed calls of the same audio.
    assert drainer_code == 0, drainer.log_file.read_text()[-3000:]
    reference = {json.dumps(verdict(details[c])) for c in undisturbed}
    assert len(reference) == 1, reference
    for cid in drained:
        assert details[cid]["call"]["end_reason"] == "stop", details[cid]["call"]
        assert json.dumps(verdict(details[cid])) in reference, (verdict(details[cid]), reference)
    # Ground truth where the audio was heard whole: the card read at ~22 s fails the call. (A replica sheds live audio
    # when recognition falls 10 s behind: on this shared 2-core machine with six calls that can hit any call.)
    shed = shed_seconds(f)
    for cid in [*drained, *undisturbed]:
        if shed.get(cid, 0.0) == 0.0:
            assert verdict(details[cid])[:3] == ("completed", 0.0, False), (cid, verdict(details[cid]))
            assert ("pci.pan-spoken", "pan_detected") in verdict(details[cid])[3]
    # New calls during the drain went to the survivor.
    assert set(late_placement.values()) == {survivor.replica_id}, late_placement
    assert set(calls) <= drain_listed
    # Nothing lost: every finding the surviving engines raised was delivered exactly once per finding id.
    counts = Counter(p["finding_id"] for p, _ in received.findings())
    surviving = [*drained, *undisturbed, *late_calls]
    stored = [x["finding_id"] for cid in surviving for x in details[cid]["findings"]]
    assert stored and all(counts[fid] == 1 for fid in stored), {fid: counts[fid] for fid in stored if counts[fid] != 1}
    scores = Counter(t.rsplit("/", 2)[-2] for t, _, _ in received.messages if t.endswith("/score"))
    assert all(scores[cid.replace("/", "%2F")] == 1 for cid in [*calls, *late_calls]), scores
    return {
        "calls_held": dict(held), "late_calls_on": late_placement, "out_of_rotation_s": round(out_of_rotation, 2),
        "replica_lost_after_s": round(lost_after, 2), "lease_s": LEASE,
        "feeders": Counter(type(o).__name__ for o in outcomes), "findings_delivered_once": len(stored),
        "verdict": verdict(details[undisturbed[0]])[:3],
        "shed_seconds": {cid[-2:]: round(v, 1) for cid, v in shed.items()},
        "unshed_ground_truth_checked": sum(1 for c in [*drained, *undisturbed] if shed.get(c, 0.0) == 0.0),
    }  # fmt: skip


def shed_seconds(f: Fleet) -> dict[str, float]:
    """Seconds of live audio each call lost to overload shedding, from the replicas' logs."""
    pattern = re.compile(r"call (\S+): ([0-9.]+) s of audio shed")
    shed: dict[str, float] = {}
    for r in f.replicas:
        for m in pattern.finditer(r.log_file.read_text(errors="replace")):
            shed[m.group(1)] = shed.get(m.group(1), 0.0) + float(m.group(2))
    return shed
