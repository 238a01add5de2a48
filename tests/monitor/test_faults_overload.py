"""Fault: more calls than the ASR can take — new calls are refused with 1013 Try Again Later and a clear reason.

Two admission limits (Service.admit): `max_calls` active calls, and `max_asr_lag` seconds of audio
received but not yet recognized on any running call. The lag limit is exercised with a real load: several calls
streamed at full speed over the raw protocol, which the 2-core machine cannot recognize in real time.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evaluation.feeders import FeedLog, stream_raw
from tests.conftest import free_port
from tests.monitor.service_harness import card_call, http_get, running_service, service_config, wait_call_stored

pytestmark = pytest.mark.slow
TRY_AGAIN_LATER = 1013


async def try_call(url: str, seconds: float = 1.0) -> tuple[int, str] | None:
    """Start a short raw call: (close code, reason) when the service refused it, None when it was accepted."""
    audio = np.zeros((int(8000 * seconds), 2), dtype="<i2")
    async with connect(url, compression=None) as ws:
        start = {"type": "start", "call_id": f"try-{uuid.uuid4().hex[:10]}", "encoding": "pcm_s16le"}
        await ws.send(json.dumps(start | {"sample_rate": 8000, "channels": [{"role": "agent"}, {"role": "customer"}]}))
        try:
            await ws.send(audio.tobytes())
            await asyncio.wait_for(ws.wait_closed(), 1.5)
        except (TimeoutError, ConnectionClosed):
            pass
        if ws.close_code is not None:
            return ws.close_code, ws.close_reason or ""
        await ws.send(json.dumps({"type": "end"}))
        await ws.wait_closed()
        return None


async def test_max_calls_refuses_the_next_call_with_1013(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), max_calls=2)
    audio = card_call("5105105105105100", digit_voice="jackson").call.audio[: 8000 * 8]
    async with running_service(config) as base:
        url = f"ws://{base}/ingest/raw"
        running = [asyncio.create_task(stream_raw(url, audio, 8000, speed=1.0)) for _ in range(2)]
        await asyncio.sleep(2.0)
        refused = await try_call(url)
        feeds = await asyncio.gather(*running)
        accepted_after = await try_call(url)
    print(f"\nmax_calls=2, third call: {refused}; running calls closed {[f.close_code for f in feeds]}")
    assert refused is not None and refused[0] == TRY_AGAIN_LATER and "at capacity" in refused[1], refused
    assert all(f.close_code == 1000 for f in feeds), "a running call was disturbed by the refusal"
    assert accepted_after is None, f"a call after the others ended was refused: {accepted_after}"


async def test_asr_lag_refuses_new_calls_until_the_load_drains(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    config = service_config(tmp_path / "data", vosk_model_path, free_port(), max_asr_lag=2.0, asr_overflow="shed")
    audio = card_call("5105105105105100", digit_voice="jackson").call.audio
    async with running_service(config) as base:
        url = f"ws://{base}/ingest/raw"
        began = time.monotonic()
        load = [asyncio.create_task(stream_raw(url, audio, 8000, speed=0)) for _ in range(3)]
        refusals: list[tuple[float, tuple[int, str]]] = []
        async with asyncio.timeout(60):
            while not refusals:
                result = await try_call(url)
                if result is not None:
                    refusals.append((time.monotonic() - began, result))
        feeds = await asyncio.gather(*load, return_exceptions=True)
        ids = [f.call_id for f in feeds if isinstance(f, FeedLog)]
        stored = {cid: (await wait_call_stored(base, cid, timeout=120))["call"] for cid in ids}
        drained = time.monotonic() - began
        accepted_after = await try_call(url)
        _, metrics = await asyncio.to_thread(http_get, f"http://{base}/metrics")
    at, (code, reason) = refusals[0]
    refused_count = sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("callwarden_ingest_errors_total") and 'close_code="1013"' in line
    )
    print(
        f"\n3 full-speed calls of {audio.shape[0] / 8000:.0f} s: first refusal {at:.1f} s in ({code} {reason!r}); "
        f"load drained after {drained:.1f} s; statuses {[c['status'] for c in stored.values()]}; 1013 closes "
        f"counted {refused_count:.0f}; new call after the load: {'accepted' if accepted_after is None else 'refused'}"
    )
    assert code == TRY_AGAIN_LATER and reason.startswith("ASR overloaded"), (code, reason)
    assert refused_count >= 1
    assert accepted_after is None, f"refused after the load drained: {accepted_after}"
    cut = [(c["call_id"], c["end_reason"]) for c in stored.values() if c["status"] != "completed"]
    # Live ingest sheds audio (counted) rather than blocking the socket reader, so overloaded calls are never cut
    # off by the WebSocket keepalive (a blocked reader cannot answer pings: 1011).
    assert cut == [] and len(ids) == len(feeds), (cut, feeds)
