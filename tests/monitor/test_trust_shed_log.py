"""An overloaded service logs shedding once per leg and then a summary every SHED_LOG_INTERVAL (issue #14), not a
WARNING per shed chunk (~50 lines a second per leg, written on the event loop exactly when it is overloaded): the
real service, two calls streamed at full speed over the raw protocol, which the recognizer cannot keep up with."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from evaluation.feeders import stream_raw
from streams.legbuffer import SHED_LOG_INTERVAL
from tests.conftest import free_port
from tests.monitor.service_harness import card_call, http_get, running_service, service_config, wait_call_stored

pytestmark = pytest.mark.slow


async def test_an_overloaded_service_logs_the_first_shed_chunk_then_a_periodic_summary(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), asr_overflow="shed")
    audio = card_call("5105105105105100", digit_voice="jackson").call.audio
    caplog.set_level(logging.WARNING, logger="streams.legbuffer")
    async with running_service(config) as base:
        began = time.monotonic()
        url = f"ws://{base}/ingest/raw"
        feeds = await asyncio.gather(*(stream_raw(url, audio, 8000, speed=0, chunk_ms=20) for _ in range(2)))
        for feed in feeds:
            await wait_call_stored(base, feed.call_id, timeout=120)
        took = time.monotonic() - began
        _, metrics = await asyncio.to_thread(http_get, f"http://{base}/metrics")
    shed = sum(float(v) for v in re.findall(r"^callwarden_asr_shed_seconds_total(?:\{[^}]*\})? (\S+)$", metrics, re.M))
    lines = [r.getMessage() for r in caplog.records if r.name == "streams.legbuffer" and " shed " in r.getMessage()]
    per_leg = Counter(line.split(":")[0] for line in lines)
    print(f"\n2 full-speed calls in {took:.1f} s: {shed:.1f} s of audio shed in 20 ms chunks; {len(lines)} log "
          f"lines {dict(per_leg)}")  # fmt: skip
    assert shed >= 2.0, shed  # overloaded indeed: at least a hundred 20 ms chunks dropped
    most = 1 + int(took / SHED_LOG_INTERVAL) + 1  # the first, one summary per interval, one more at most
    assert all(count <= most for count in per_leg.values()), (per_leg, most, took)
