"""Defects 6, 8 and 9 of issue #14: the outbox depth gauge during a broker outage, malformed requests answered 400
(never 500 or 1011), and the store's digit guard leaving identifiers alone."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import http.client
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from evaluation.feeders import stream_raw
from monitor.access.users import hash_password
from monitor.config.trust import AccessConfig
from monitor.store.database import Store
from rules.events import Speaker
from rules.findings import Severity
from rules.redact import Redacted
from tests.conftest import MosquittoBroker
from tests.monitor.ingest_support import LiveService, running_service
from tests.monitor.store_helpers import make_finding, make_utterance

DIGIT_ID = "3533690123257022"  # an all-digit finding id (a sha256 prefix can be one) that looks like a card number


def test_the_digit_guard_leaves_identifiers_alone(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "cw.sqlite3")
    store.call_started("guard-1", protocol="raw", started_wall=1.0)
    finding = dataclasses.replace(make_finding("guard-1", 1), finding_id=DIGIT_ID)
    store.add_findings([finding], wall_time=2.0)
    report = {"score": 0.0, "passed": False, "rules": [{"rule_id": "pci.pan-spoken", "finding_ids": [DIGIT_ID]}],
              "reason": "card 5105105105105100 read"}  # fmt: skip
    store.call_ended("guard-1", ended_wall=3.0, audio_seconds=1.0, end_reason="end", report=report)
    detail = store.get_call("guard-1")
    payloads = [json.loads(row.payload) for row in store.pending_outbox()]
    assert detail is not None and [f.finding_id for f in detail.findings] == [DIGIT_ID]
    assert payloads[0]["finding_id"] == DIGIT_ID
    assert payloads[1]["report"]["rules"][0]["finding_ids"] == [DIGIT_ID]  # the MQTT score message
    assert "5105105105105100" not in json.dumps(payloads)  # free text is still guarded
    store.close()


def _request(port: int, path: str, headers: list[tuple[str, str]]) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        reply = conn.getresponse()
        return reply.status, reply.read().decode(errors="replace")
    finally:
        conn.close()


def basic(name: str, password: str) -> tuple[str, str]:
    return "Authorization", "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


async def _ws_close(service: LiveService, path: str, headers: list[tuple[str, str]]) -> tuple[int | None, str]:
    try:
        async with connect(service.ws(path), additional_headers=headers, compression=None) as ws:
            try:
                async with asyncio.timeout(5):
                    await ws.recv()
            except ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason or ""
    except InvalidStatus as refused:
        return refused.response.status_code, "http"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_malformed_requests_are_answered_400_not_500(
    tmp_path: Path, vosk_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = basic("ada", "ada-secret-1")
    access = AccessConfig(users={"ada": "admin:" + hash_password("ada-secret-1")}, require_auth=True)
    async with running_service(tmp_path, vosk_model_path, access=access) as service:
        port = service.config.port
        queries = ["limit=inf", "limit=-1", "offset=1e300", "limit=1e400", "limit=nan", "offset=-5", "since=nan"]
        answers = {q: await asyncio.to_thread(_request, port, f"/api/calls?{q}", [good]) for q in queries}
        answers["audit limit=inf"] = await asyncio.to_thread(_request, port, "/api/audit?limit=inf", [good])
        answers["two Authorization"] = await asyncio.to_thread(_request, port, "/api/calls", [good, good])
        live_twice = await _ws_close(service, "/live", [good, good])
        session = [("Audiohook-Session-Id", "e160e428-53e2-487c-977d-96989bf5c99d")] * 2
        audiohook_twice = await _ws_close(service, "/ingest/audiohook", session)
    for what, (status, body) in answers.items():
        assert status == 400, (what, status, body)
    assert live_twice[0] in (400, 1008), live_twice
    assert audiohook_twice[0] in (400, 401, 1008), audiohook_twice
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert not errors, errors


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_outbox_depth_is_true_during_a_broker_outage(
    tmp_path: Path, vosk_model_path: Path, fresh_mosquitto: MosquittoBroker
) -> None:
    fresh_mosquitto.stop()
    silence = np.zeros((8000, 2), dtype=np.int16)
    async with running_service(tmp_path, vosk_model_path, mqtt_url=fresh_mosquitto.url) as service:
        for n in range(3):
            await stream_raw(service.ws("/ingest/raw"), silence, 8000, call_id=f"outage-{n}", speed=0)
            await service.finished_call(f"outage-{n}")
        await asyncio.sleep(0.5)
        during = await service.metric("callwarden_outbox_depth")
        fresh_mosquitto.start()
        async with asyncio.timeout(30):
            while (after := await service.metric("callwarden_outbox_depth")) > 0:
                await asyncio.sleep(0.2)
    assert during >= 3, during  # at least the three score messages wait for the broker (was 0)
    assert after == 0


def test_database_wal_and_shm_files_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "data" / "callwarden.sqlite3"
    store = Store.open(db)
    store.call_started("perm-1", protocol="raw", started_wall=1.0)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in db.parent.iterdir() if p.name.startswith(db.name)}
    store.close()
    assert set(modes) == {db.name, db.name + "-wal", db.name + "-shm"}, modes
    assert set(modes.values()) == {"0o600"}, modes


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "callwarden.sqlite3"
    Store.open(db).close()
    db.chmod(0o644)
    Store.open(db).close()
    assert oct(db.stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_readyz_is_cached_and_does_not_write_on_every_request(tmp_path: Path, vosk_model_path: Path) -> None:
    async with running_service(tmp_path, vosk_model_path) as service:
        with sqlite3.connect(tmp_path / "callwarden.sqlite3") as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            answers = [await service.get("/readyz") for _ in range(50)]
            _busy, frames, _done = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert all(status == 200 for status, _ in answers)
    assert frames < 10, f"50 /readyz requests wrote {frames} WAL frames"


def test_a_consent_refusal_stops_transcript_storage(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "cw.sqlite3")
    store.call_started("refused-1", protocol="raw", started_wall=1.0)
    before = store.add_transcript(make_utterance("refused-1", 0, "hello"), redacted_text=Redacted("hello"))
    refusal = make_finding("refused-1", 0, rule_id="consent.recording-consent", kind="consent",
                           outcome="consent_refused", severity=Severity.CRITICAL, evidence="no i do not agree",
                           speaker=Speaker.CUSTOMER)  # fmt: skip
    store.add_findings([refusal], wall_time=2.0)
    later = make_utterance("refused-1", 1, "my address is")
    after = store.add_transcript(later, redacted_text=Redacted("my address is"))
    detail = store.get_call("refused-1")
    store.close()
    assert before is True and after is False  # the pack: refusal means stop recording
    assert detail is not None and [t.text for t in detail.transcript] == ["hello"]
