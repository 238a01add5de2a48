"""Defects 2 and 7 of issue #14 against the real service: admission is atomic under a burst of concurrent call
starts (max_calls holds), and a started call that then sends nothing is cut after the idle limit (its slot freed)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from monitor.config.ingest import IngestConfig
from tests.monitor.ingest_support import LiveService, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def raw_start(call_id: str) -> str:
    return json.dumps({"type": "start", "call_id": call_id, "encoding": "pcm_s16le", "sample_rate": 8000,
                       "channels": [{"role": "agent"}, {"role": "customer"}]})  # fmt: skip


async def open_call(service: LiveService, call_id: str) -> ClientConnection:
    ws = await connect(service.ws("/ingest/raw"), compression=None)
    await ws.send(raw_start(call_id))
    return ws


async def closed_within(ws: ClientConnection, seconds: float) -> tuple[int | None, str]:
    """The close code and reason if the server closed `ws` within `seconds` (reading what it sends), else None."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return ws.close_code, ws.close_reason or ""
    except TimeoutError:
        return None, ""


async def test_a_burst_of_concurrent_starts_never_exceeds_max_calls(tmp_path: Path, vosk_model_path: Path) -> None:
    async with running_service(tmp_path, vosk_model_path, max_calls=4) as service:
        sockets = await asyncio.gather(*(open_call(service, f"burst-{n}") for n in range(20)))
        outcomes = await asyncio.gather(*(closed_within(ws, 4.0) for ws in sockets))
        admitted = [ws for ws, (code, _) in zip(sockets, outcomes, strict=True) if code is None]
        refused = [(code, reason) for code, reason in outcomes if code is not None]
        active = await service.metric("callwarden_active_calls")
        for ws in admitted:
            await ws.send(json.dumps({"type": "end"}))
            await ws.close()
        await service.all_calls_finished()
    print(f"\nburst of 20 with max_calls 4: {len(admitted)} admitted, refused {sorted(set(refused))}")
    assert len(admitted) == 4 and active == 4, (len(admitted), active)
    assert all(code == 1013 and "capacity" in reason for code, reason in refused), refused


async def test_a_started_call_that_sends_nothing_is_cut_and_frees_its_slot(
    tmp_path: Path, vosk_model_path: Path
) -> None:
    ingest = IngestConfig(call_idle_timeout=2.0)
    async with running_service(tmp_path, vosk_model_path, max_calls=1, ingest=ingest) as service:
        silent = await open_call(service, "silent-1")
        await silent.send(b"\x00\x00" * 800)  # 0.1 s of audio, then nothing
        began = time.monotonic()
        code, reason = await closed_within(silent, 10.0)
        cut_after = time.monotonic() - began
        detail = await service.finished_call("silent-1")
        second = await open_call(service, "after-silent")
        second_close = await closed_within(second, 1.0)
        await second.send(json.dumps({"type": "end"}))
        await closed_within(second, 10.0)
    assert code == 1008 and "no audio" in reason, (code, reason)
    assert 1.5 < cut_after < 6.0, cut_after
    assert (detail["call"]["status"], detail["call"]["end_reason"]) == ("incomplete", "idle"), detail["call"]
    assert detail["call"]["score"] is None
    assert second_close == (None, ""), second_close  # the slot was freed: the next call is admitted
