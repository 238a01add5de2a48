"""Replicas of the real service on one real PostgreSQL store: one data key from the secret (never a key file), and a
replica killed with SIGKILL mid-call whose call a survivor marks incomplete / replica-lost within the lease, its
alerts delivered by the survivor."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from monitor.config.settings import DatabaseConfig
from monitor.config.trust import EncryptionConfig
from monitor.store.crypto import key_id, parse_key
from monitor.store.records import StoreError
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.service_harness import card_call, get_json, running_service, service_config, subscriber
from tests.monitor.test_service_shutdown import feed_until_closed, serve_process

DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, base64 (tests only)
LEASE = 3.0


async def test_replicas_share_the_secret_data_key_and_never_make_a_key_file(
    vosk_model_path: Path, tmp_path: Path, pg_dsn: str
) -> None:
    configs = [
        service_config(
            tmp_path / f"r{n}", vosk_model_path, free_port(),
            database=DatabaseConfig(url=pg_dsn, replica_id=f"replica-{n}", lease_seconds=LEASE),
            encryption=EncryptionConfig(key=DATA_KEY),
        )
        for n in (1, 2)
    ]  # fmt: skip
    async with running_service(configs[0]) as one, running_service(configs[1]) as two:
        statuses = [await get_json(f"http://{base}/api/status") for base in (one, two)]
    assert [s["replica_id"] for s in statuses] == ["replica-1", "replica-2"]
    assert {s["data_key_id"] for s in statuses} == {key_id(parse_key(DATA_KEY, "test"))}
    assert {s["store"] for s in statuses} == {"postgresql"}
    assert not any((tmp_path / f"r{n}" / "callwarden.key").exists() for n in (1, 2))

    keyless = replace(configs[0], port=free_port(), data_dir=tmp_path / "keyless", encryption=EncryptionConfig())
    with pytest.raises(StoreError, match=r"CALLWARDEN_DATA_KEY.*never created"):
        async with running_service(keyless):
            pass
    assert not (tmp_path / "keyless" / "callwarden.key").exists()


@pytest.mark.slow
async def test_a_killed_replicas_call_becomes_replica_lost_within_the_lease_and_its_alerts_still_go_out(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path, pg_dsn: str, mosquitto: MosquittoBroker
) -> None:
    prefix = "replica-kill"
    common = {
        "host": "127.0.0.1", "model_path": str(vosk_model_path), "log_level": "INFO", "mqtt_url": mosquitto.url,
        "mqtt_topic_prefix": prefix, "encryption": {"key": DATA_KEY},
    }  # fmt: skip
    victim_port = free_port()
    victim_file = tmp_path / "victim.yaml"
    victim_file.write_text(yaml.safe_dump({
        **common, "port": victim_port, "data_dir": str(tmp_path / "victim"),
        "database": {"url": pg_dsn, "replica_id": "victim", "lease_seconds": LEASE},
    }))  # fmt: skip
    survivor = service_config(
        tmp_path / "survivor", vosk_model_path, free_port(), mqtt_url=mosquitto.url, mqtt_topic_prefix=prefix,
        database=DatabaseConfig(url=pg_dsn, replica_id="survivor", lease_seconds=LEASE),
        encryption=EncryptionConfig(key=DATA_KEY),
    )  # fmt: skip
    cid = "CAreplicakill00000000000000000001"
    call = card_call("5555555555554444", digit_voice="jackson", late=True)

    async with (
        subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id="replica-kill-test") as received,
        running_service(survivor) as base,
        serve_process(victim_file, tmp_path / "victim.log") as victim,
    ):
        feeder = asyncio.create_task(
            feed_until_closed(f"ws://127.0.0.1:{victim_port}/ingest/twilio", call.call.audio, cid)
        )
        async with asyncio.timeout(60):  # the victim stored the call and its first finding (the disclosure)
            while not any(p.get("call_id") == cid for p, _ in received.findings()):
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.wait()
        await asyncio.wait_for(feeder, 30)
        async with asyncio.timeout(LEASE * 4 + 10):
            while (detail := await get_json(f"http://{base}/api/calls/{cid}"))["call"]["status"] == "active":
                await asyncio.sleep(0.1)
        lost_after = time.monotonic() - killed
        listed = await get_json(f"http://{base}/api/calls")
        await received.wait_until(
            lambda: any(t == f"{prefix}/calls/{cid}/score" for t, _, _ in received.messages), timeout=15
        )
        await asyncio.sleep(1.0)
    print(f"\nSIGKILL → call {cid} incomplete / replica-lost after {lost_after:.2f} s (lease {LEASE} s)")
    c = detail["call"]
    assert (c["status"], c["end_reason"], c["score"], c["passed"]) == ("incomplete", "replica-lost", None, None)
    assert lost_after < LEASE + LEASE / 3 + 3.0, lost_after  # lease + one beat + slack for a loaded machine
    assert cid in [x["call_id"] for x in listed["calls"]]  # the survivor lists the victim's call (shared history)
    delivered = {p["finding_id"] for p, _ in received.findings(cid)}
    assert {f["finding_id"] for f in detail["findings"]} <= delivered  # every stored finding went out
    (score,) = [p for t, p, _ in received.messages if t == f"{prefix}/calls/{cid}/score"]
    assert (score["status"], score["end_reason"], score["score"], score["passed"]) == (
        "incomplete", "replica-lost", None, None,
    )  # fmt: skip


async def test_every_replica_shows_every_call_live_and_in_its_history(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path, pg_dsn: str, mosquitto: MosquittoBroker
) -> None:
    """A call on replica 1 appears on replica 2's /live (start, transcript, findings, end) through the broker and in
    its /api/calls from PostgreSQL; a supervisor on replica 2 acknowledges one of its findings and replica 1's
    dashboards see the acknowledgement."""
    import json

    from websockets.asyncio.client import connect

    from tests.monitor.test_pci_scan import live_client

    prefix = "replica-live"
    configs = [
        service_config(
            tmp_path / f"r{n}", vosk_model_path, free_port(), mqtt_url=mosquitto.url, mqtt_topic_prefix=prefix,
            database=DatabaseConfig(url=pg_dsn, replica_id=f"live-{n}", lease_seconds=LEASE),
            encryption=EncryptionConfig(key=DATA_KEY),
        )
        for n in (1, 2)
    ]  # fmt: skip
    cid = "CAreplicalive00000000000000000001"
    call = card_call("5555555555554444", digit_voice="jackson")
    async with (
        running_service(configs[0]) as one,
        running_service(configs[1]) as two,
        live_client(f"ws://{one}/live") as live_one,
        live_client(f"ws://{two}/live") as live_two,
    ):
        await asyncio.sleep(1.0)  # both bridges subscribed
        await feed_until_closed(f"ws://{one}/ingest/twilio", call.call.audio, cid)
        async with asyncio.timeout(60):
            while not any('"call_ended"' in m and cid in m for m in live_two):
                await asyncio.sleep(0.1)
        listed = {c["call_id"]: c for c in (await get_json(f"http://{two}/api/calls"))["calls"]}
        remote = [json.loads(m) for m in live_two if cid in m]
        pan = next(m for m in remote if m["type"] == "finding" and m["finding"]["outcome"] == "pan_detected")
        async with connect(f"ws://{two}/live") as ws:
            await ws.send(json.dumps({"type": "ack", "finding_id": pan["finding"]["finding_id"], "by": "sup-ann"}))
            async with asyncio.timeout(15):
                while not any('"acknowledged"' in m and pan["finding"]["finding_id"] in m for m in live_one):
                    await asyncio.sleep(0.1)
        detail = await get_json(f"http://{one}/api/calls/{cid}")
    kinds = [m["type"] for m in remote]
    print(f"\nreplica 2 saw replica 1's call live: {len(kinds)} messages ({sorted(set(kinds))})")
    assert kinds[0] == "call_started" and kinds[-1] == "call_ended"
    assert any(k == "transcript" for k in kinds) and any(m.get("final") for m in remote if m["type"] == "transcript")
    assert listed[cid]["status"] == "completed" and listed[cid]["passed"] is False
    # acknowledged on replica 2, seen from replica 1; the actor is the signed-in user (none here: "anonymous"),
    # never the name a page sends
    assert [a["by"] for a in detail["acknowledgements"]] == ["anonymous"]
    assert "5555555555554444" not in "".join(live_two)  # what crosses the broker is the redacted output
