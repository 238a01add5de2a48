"""Acceptance 4 — PCI: after calls with card numbers and CVVs ran through the real service, no output holds them.

Three calls run at once through Twilio ingest; in each the customer reads a test card and its CVV and the agent
reads both back (real spoken digits, FSDD). Then every place the service writes to is scanned: the SQLite file,
its WAL and shared-memory files (raw bytes, while running and after shutdown), the service's logs (all levels
from DEBUG), every MQTT message, every /live message, /metrics and the exported reports (GET /api/calls/<id>,
its consent proof, the call list). A leak is a card number or CVV as digits (with or without separators) or as
spoken digit words (4+ consecutive words of a card number, all of a CVV's words in sequence).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from evaluation.feeders import stream_twilio
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.faults_support import PCI_CASES, Leak, pci_call, scan, scan_bytes, spoken_runs
from tests.monitor.service_harness import get_json, http_get, running_service, service_config, subscriber

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def live_client(url: str) -> AsyncIterator[list[str]]:
    """Collects every text message of a /live connection."""
    got: list[str] = []
    async with connect(url, max_size=None) as ws:

        async def collect() -> None:
            async for message in ws:
                got.append(message if isinstance(message, str) else message.decode(errors="replace"))

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def db_files(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file()}


async def test_no_card_number_or_cvv_escapes_anywhere(
    mosquitto: MosquittoBroker,
    vosk_model_path: Path,
    espeak: str,
    shared_data: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for noisy in ("websockets", "aiomqtt"):
        caplog.set_level(logging.INFO, logger=noisy)
    prefix = f"cwpci-{uuid.uuid4().hex[:8]}"
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), mosquitto.url, mqtt_topic_prefix=prefix)
    calls = {f"CApci{uuid.uuid4().hex}": pci_call(card, cvv) for card, cvv in PCI_CASES}
    outputs: dict[str, str] = {}
    async with (
        subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
        running_service(config) as base,
        live_client(f"ws://{base}/live") as live,
    ):
        url = f"ws://{base}/ingest/twilio"
        await asyncio.gather(*(stream_twilio(url, c.audio, call_id=cid, speed=1.0) for cid, c in calls.items()))
        details: dict[str, Any] = {}
        for cid in calls:
            details[cid] = await _stored(base, cid)
        await got.wait_until(lambda: sum(1 for t, _, _ in got.messages if t.endswith("/score")) >= len(calls), 30)
        await asyncio.sleep(1.0)  # the last live messages
        for cid in calls:
            for path in (f"/api/calls/{cid}", f"/api/calls/{cid}/consent"):
                outputs[f"GET {path}"] = (await asyncio.to_thread(http_get, f"http://{base}{path}"))[1]
        outputs["GET /api/calls"] = (await asyncio.to_thread(http_get, f"http://{base}/api/calls"))[1]
        outputs["GET /metrics"] = (await asyncio.to_thread(http_get, f"http://{base}/metrics"))[1]
        running_db = db_files(config.db_path)
    after_db = db_files(config.db_path)
    outputs["MQTT"] = "\n".join(f"{t} {json.dumps(p, ensure_ascii=False)}" for t, p, _ in got.messages)
    outputs["/live"] = "\n".join(live)
    outputs["logs"] = "\n".join(f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records)

    leaks: list[Leak] = []
    for where, text in outputs.items():
        leaks += scan(where, text, PCI_CASES)
    for phase, files in (("running", running_db), ("after shutdown", after_db)):
        for name, data in files.items():
            leaks += scan_bytes(f"{name} ({phase})", data, PCI_CASES)

    findings = {cid: sorted({f["outcome"] for f in d["findings"]}) for cid, d in details.items()}
    transcripts = {cid: [f"{t['speaker']}: {t['text']}" for t in d["transcript"]] for cid, d in details.items()}
    scanned = {k: len(v) for k, v in outputs.items()} | {
        f"{n} ({p})": len(d) for p, fs in (("running", running_db), ("after", after_db)) for n, d in fs.items()
    }
    print(f"\nscanned (chars/bytes): {scanned}\nfindings: {findings}")
    for cid, lines in transcripts.items():
        print(f"transcript {cid}:\n  " + "\n  ".join(lines))
    for leak in leaks:
        print(f"LEAK in {leak.where}: {leak.secret} as {leak.form}: …{leak.context!r}…")
    digit_runs = [(w, r[0]) for w, t in outputs.items() for r in spoken_runs(t) if len(r[0]) >= 4]
    print(f"spoken digit runs ≥ 4 words anywhere (not necessarily secrets): {digit_runs[:20]}")

    assert len(live) > 10 and len(got.messages) >= len(calls), "the sinks captured nothing: the scan tests nothing"
    heard = sum("pan_detected" in outcomes for outcomes in findings.values())
    assert heard >= 2, f"the service detected card numbers in only {heard} call(s): {findings}\n{transcripts}"
    assert not leaks, f"{len(leaks)} leak(s): " + "; ".join(f"{x.where}: {x.secret} as {x.form}" for x in leaks)


async def _stored(base: str, call_id: str) -> Any:
    async with asyncio.timeout(90):
        while True:
            with contextlib.suppress(OSError):
                detail = await get_json(f"http://{base}/api/calls/{call_id}")
                if detail["call"]["status"] != "active":
                    return detail
            await asyncio.sleep(0.2)
