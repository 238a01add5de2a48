"""Acceptance: a live WebSocket fuzzer against the real service while a good call streams real speech.

Every ingest protocol gets CALLWARDEN_FUZZ_INPUTS malformed messages (default 2,500; the full acceptance run uses
10,000) over real connections — mutated valid sequences: wrong types, huge numbers, unicode, missing fields,
out-of-order and truncated messages, random binary, deep nesting, oversize frames. The service must not crash or log
an error or traceback, must close bad connections with a protocol code (never 1011), and the good call must complete
with its findings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from evaluation.feeders import stream_raw
from tests.monitor.ingest_support import LiveService, card_call, findings_by_rule, record, running_service
from tests.monitor.live_fuzzer import TARGETS, fuzz_protocol

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

INPUTS = int(os.environ.get("CALLWARDEN_FUZZ_INPUTS", "2500"))
PROTOCOL_CODES = {1000, 1002, 1003, 1007, 1008, 1009, 1013}


class Collector(logging.Handler):
    """Every log record of the process, from any logger (ours, websockets, asyncio)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collector() -> AsyncIterator[Collector]:
    handler = Collector()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler  # type: ignore[misc]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
async def service(tmp_path: Path, vosk_model_path: Path) -> AsyncIterator[LiveService]:
    async with running_service(tmp_path / "data", vosk_model_path) as running:
        yield running


async def test_live_fuzzing_never_crashes_the_service_and_a_good_call_completes(
    service: LiveService, collector: Collector, espeak: str, shared_data: Path
) -> None:
    call = card_call(8000, agent_channel=0)
    began = time.monotonic()
    base = f"ws://127.0.0.1:{service.config.port}"
    good = asyncio.create_task(stream_raw(service.ws("/ingest/raw"), call.audio, 8000, call_id="fuzz-good", speed=1.0))
    runs = [fuzz_protocol(base, name, INPUTS, seed=seed) for seed, name in enumerate(TARGETS)]
    tallies = dict(zip(TARGETS, await asyncio.gather(*runs), strict=True))
    fuzz_seconds = time.monotonic() - began
    feed = await good
    detail = await service.finished_call(feed.call_id)
    await service.all_calls_finished(timeout=120)
    rules = findings_by_rule(detail)
    errors = [r for r in collector.records if r.levelno >= logging.ERROR or r.exc_info]
    tracebacks = [r for r in collector.records if "Traceback" in r.getMessage()]
    figures = {
        "inputs_per_protocol": INPUTS,
        "fuzz_s": round(fuzz_seconds, 1),
        "per_protocol": {n: {"malformed": t.malformed, "sent": t.sent, "connections": t.connections,
                             "refused": t.refused_upgrades, "codes": dict(t.close_codes),
                             "abnormal": t.abnormal_batches[:5]} for n, t in tallies.items()},
        "errors": [r.getMessage()[:200] for r in errors[:5]],
        "good_call": {"close": feed.close_code, "findings": rules, "score": detail["call"]["score"],
                      "transcript": [(t["speaker"], t["text"]) for t in detail["transcript"]]},
    }  # fmt: skip
    record(figures, "fuzz-live")
    assert not errors and not tracebacks, figures["errors"]
    for name, tally in tallies.items():
        assert tally.malformed >= INPUTS, name
        assert set(tally.close_codes) <= PROTOCOL_CODES, (name, tally.close_codes)
    assert (feed.close_code, feed.close_reason) == (1000, "end of call")
    assert detail["call"]["status"] == "completed"
    assert "pan_detected" in rules["pci.pan-spoken"] and "said" in rules["disclosure.recording"]
    assert await service.get("/healthz") == (200, "ok\n")
    assert await service.metric("callwarden_active_calls") == 0
