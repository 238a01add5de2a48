"""A burst of call starts must not starve a live call's audio (issue #14): `callwarden serve` as its own process, a
Twilio card call streaming in real time, and while its customer reads the card number BURST raw calls start at
once. Each admitted call builds its recognizers (~0.1-0.2 s of CPU a leg); the live call must still decode in time:
no audio shed, its card alert `pan_detected`. Not met yet (BENCHMARKS.md): expected to fail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evaluation.feeders import stream_twilio
from tests.conftest import free_port
from tests.monitor.service_harness import card_call, get_json, http_get
from tests.monitor.test_service_shutdown import serve_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

BURST = 23  # with the live call: max_calls (24), every slot filled at once


def raw_start(call_id: str) -> str:
    return json.dumps({"type": "start", "call_id": call_id, "encoding": "pcm_s16le", "sample_rate": 8000,
                       "channels": [{"role": "agent"}, {"role": "customer"}]})  # fmt: skip


async def short_call(url: str, call_id: str, seconds: float) -> int | None:
    """Start a call, send 20 ms of silence every 0.2 s for `seconds`, end it: the close code (None: ended cleanly)."""
    try:
        async with connect(url, compression=None, open_timeout=60) as ws:
            await ws.send(raw_start(call_id))
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                await ws.send(b"\x00\x00" * 320)
                await asyncio.sleep(0.2)
            await ws.send(json.dumps({"type": "end"}))
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                async with asyncio.timeout(30):
                    while True:
                        await ws.recv()
            return ws.close_code if ws.close_code != 1000 else None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


@pytest.mark.xfail(
    reason="issue #14, not met: on this shared 2-core box at load 21-25 the live call shed 26-35 s of audio and lost "
    "its card alert with the burst, whether recognizers were built on one thread or (as now) the default executor "
    "(BENCHMARKS.md, 'A burst of call starts beside a live call'); not yet measured on a quiet machine",
    strict=False,
)
async def test_a_burst_of_call_starts_does_not_starve_a_live_calls_audio(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path
) -> None:
    port = free_port()
    config = {"host": "127.0.0.1", "port": port, "data_dir": str(tmp_path / "data"), "model_path": str(vosk_model_path),
              "max_calls": BURST + 1, "max_asr_lag": 0.0, "asr_overflow": "shed", "asr_threads": 2,
              "log_level": "INFO"}  # fmt: skip
    config_file = tmp_path / "callwarden.yaml"
    config_file.write_text(yaml.safe_dump(config))
    legit = card_call("5105105105105100", digit_voice="jackson")
    reading = next(t for t in legit.call.labels if t.text.startswith("okay. it is"))
    sid = "CAburst" + "0" * 25 + "1"
    base = f"ws://127.0.0.1:{port}"
    async with serve_process(config_file, tmp_path / "serve.log"):
        feeder = asyncio.create_task(stream_twilio(f"{base}/ingest/twilio", legit.call.audio, call_id=sid, speed=1.0))
        await asyncio.sleep(reading.start - 0.5)  # the burst lands as the customer starts reading the card number
        codes = await asyncio.gather(*(short_call(f"{base}/ingest/raw", f"burst-{n}", 6.0) for n in range(BURST)))
        await asyncio.wait_for(feeder, 120)
        async with asyncio.timeout(60):
            while (detail := await get_json(f"http://127.0.0.1:{port}/api/calls/{sid}"))["call"]["status"] == "active":
                await asyncio.sleep(0.2)
        _, metrics = await asyncio.to_thread(http_get, f"http://127.0.0.1:{port}/metrics")
    shed = sum(float(v) for v in re.findall(r"^callwarden_asr_shed_seconds_total(?:\{[^}]*\})? (\S+)$", metrics, re.M))
    pci = [f["outcome"] for f in detail["findings"] if f["rule_id"] == "pci.pan-spoken"]
    print(f"\nburst of {BURST} starts during the card reading: close codes {sorted(set(map(str, codes)))}, "
          f"live call shed {shed:.2f} s, pci.pan-spoken {pci}")  # fmt: skip
    assert all(code is None for code in codes), codes  # all admitted (max_calls holds them all)
    assert shed == 0.0, f"the live call shed {shed:.2f} s of audio during the burst"
    assert "pan_detected" in pci, (pci, detail["call"])
