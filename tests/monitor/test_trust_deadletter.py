"""Issue #14, second list: one undeliverable outbox row (a payload that no longer decrypts, e.g. after `keys rotate`
on a live service) must not halt all alert delivery: it is dead-lettered with an ERROR and a metric, and every
other row goes out — against a real Mosquitto broker and the real SQLite store."""

from __future__ import annotations

import logging
import secrets
import sqlite3
from pathlib import Path

import pytest

from monitor.metrics import Metrics
from monitor.sinks.mqtt import MqttAlertSink
from monitor.store.async_store import AsyncStore
from monitor.store.crypto import DataKeys
from tests.conftest import MosquittoBroker
from tests.monitor.store_helpers import make_finding
from tests.monitor.test_mqtt_sink import subscriber

pytestmark = pytest.mark.timeout(60)


async def test_an_undecryptable_row_is_dead_lettered_and_the_rest_is_delivered(
    tmp_path: Path, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "cw.sqlite3"
    keys = DataKeys(secrets.token_bytes(32))
    store = await AsyncStore.open(db, keys)
    async with store:
        await store.call_started("dead-1", protocol="raw", started_wall=1.0)
        findings = [make_finding("dead-1", n) for n in range(3)]
        await store.add_findings(findings[:1], wall_time=2.0)
        with sqlite3.connect(db) as raw:  # the first row's ciphertext no longer authenticates
            (payload,) = raw.execute("SELECT payload FROM outbox ORDER BY seq LIMIT 1").fetchone()
            body = payload[:-8] + ("A" if payload[-8] != "A" else "B") + payload[-7:]
            raw.execute("UPDATE outbox SET payload = ? WHERE seq = (SELECT MIN(seq) FROM outbox)", (body,))
        await store.add_findings(findings[1:], wall_time=3.0)
        metrics = Metrics()
        async with subscriber(mosquitto, "deadletter") as got:
            with caplog.at_level(logging.WARNING):
                async with MqttAlertSink(store, mosquitto.url, topic_prefix="deadletter", metrics=metrics):
                    await got.wait_for({f.finding_id for f in findings[1:]}, timeout=20)
                    depth = await store.outbox_depth()
        with sqlite3.connect(db) as raw:
            dead = raw.execute("SELECT seq, last_error FROM outbox WHERE dead_wall IS NOT NULL").fetchall()
    body_text, _ = metrics.render()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert set(got.finding_ids()) == {f.finding_id for f in findings[1:]}
    assert depth == 0
    assert len(dead) == 1 and "authentication" in dead[0][1], dead
    assert any("dead-letter" in e for e in errors), errors
    exposed = body_text.decode() if isinstance(body_text, bytes) else str(body_text)
    assert "callwarden_outbox_dead_letters_total 1.0" in exposed, exposed[-500:]
    assert not any("unreachable" in r.getMessage() for r in caplog.records)
