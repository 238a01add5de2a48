"""The do-not-call register against the real service: a spoken request in a call with the tcpa pack on becomes a
record with time and evidence at /api/do-not-call (JSON and CSV), and reading the register is audited."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from evaluation.synth import Turn, render_call
from monitor.store.database import Store
from rules.events import Speaker
from tests.monitor.ingest_support import VOICES, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
A, C = Speaker.AGENT, Speaker.CUSTOMER


async def test_a_spoken_do_not_call_request_is_in_the_register(tmp_path: Path, vosk_model_path: Path) -> None:
    call = render_call(
        [
            Turn(A, "hello, this is anna calling from sunrise solar. do you have a minute?", speed=130),
            Turn(C, "no thank you. please do not call me again.", speed=120),
            Turn(A, "i am sorry about that. goodbye.", speed=130),
        ],
        rate=8000, agent_channel=0, voices=VOICES,
    )
    async with running_service(tmp_path / "data", vosk_model_path, packs=("tcpa",)) as svc:
        assert await svc.get_json("/api/do-not-call") == {"requests": []}
        feed = await stream_twilio(svc.ws("/ingest/twilio"), call.audio, speed=0)
        async with asyncio.timeout(60):
            while (await svc.get_json(f"/api/calls/{feed.call_id}"))["call"]["status"] == "active":
                await asyncio.sleep(0.2)
        detail = await svc.get_json(f"/api/calls/{feed.call_id}")
        register = (await svc.get_json("/api/do-not-call"))["requests"]
        heard = [f"{t['speaker']}: {t['text']}" for t in detail["transcript"]]
        assert register, f"no request in the register; the service heard {heard}"
        status, body = await svc.get(f"/api/do-not-call?format=csv&since={register[0]['requested_wall'] - 1}")
        store = Store.open(svc.config.db_path)
        try:
            audited = store.audit_entries(action="do_not_call_export")
        finally:
            store.close()

    transcript = [f"{t['speaker']}: {t['text']}" for t in detail["transcript"]]
    tcpa = [r for r in register if r["rule_id"] == "tcpa.do-not-call-request"]
    assert tcpa, (register, transcript)
    request = tcpa[0]
    assert request["call_id"] == feed.call_id and request["outcome"] == "do_not_call_requested"
    assert request["speaker"] == "customer" and request["requested_wall"] > 0 and request["audio_start"] > 2.0
    assert "call" in request["evidence"] and "again" in request["evidence"]
    gdpr = [r for r in register if r["rule_id"] == "gdpr.do-not-contact"]  # the built-in pack logs it as well
    assert {r["call_id"] for r in gdpr} <= {feed.call_id}
    rows = list(csv.DictReader(io.StringIO(body)))
    assert status == 200 and rows[0]["call_id"] == feed.call_id and len(rows) == len(register)
    assert {row["finding_id"] for row in rows} == {r["finding_id"] for r in register}
    assert len(audited) == 3  # every read of the register is in the audit log
