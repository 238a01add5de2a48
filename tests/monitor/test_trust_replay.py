"""Defect 4 of issue #14 against the real service: a replayed Twilio signature + call token cannot re-open an ended
call, and a reused call id (reconnect, transfer, restarted stream) becomes a new segment `<id>~2` instead of
overwriting the stored record, with its own findings delivered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from evaluation.feeders import stream_raw, stream_twilio
from tests.monitor import auth_clients as cred
from tests.monitor.ingest_support import card_call, findings_by_rule, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_a_replayed_twilio_token_cannot_reopen_an_ended_call(
    tmp_path: Path, vosk_model_path: Path, espeak: str, shared_data: Path
) -> None:
    call = card_call(8000)
    sid = "CAreplay00000000000000000000000001"
    token = {"token": cred.call_token(sid)}
    async with running_service(tmp_path, vosk_model_path, **cred.service_changes()) as service:
        url = service.ws("/ingest/twilio")
        first = await stream_twilio(url, call.audio, call_id=sid, speed=0, parameters=token,
                                    headers=cred.twilio_good_signature())  # fmt: skip
        before = await service.finished_call(sid)
        silence = np.zeros((8000 * 5, 2), dtype=np.int16)
        try:
            replay = await stream_twilio(url, silence, call_id=sid, speed=0, parameters=token,
                                         headers=cred.twilio_good_signature())  # fmt: skip
            replayed = (replay.close_code, replay.close_reason)
        except ConnectionClosed as closed:
            replayed = (closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else "")
        await asyncio.sleep(1.0)
        after = await service.finished_call(sid)
        listed = [c["call_id"] for c in await service.calls()]
    assert before["call"]["status"] == "completed", (first.close_code, before["call"])
    assert replayed[0] == 1008, replayed
    assert after == before, "the replay changed the stored call"
    assert listed == [sid], listed  # no segment either: a call token opens its call once


async def test_a_reused_call_id_is_a_new_segment_and_keeps_the_first_record(
    tmp_path: Path, vosk_model_path: Path, espeak: str, shared_data: Path
) -> None:
    call = card_call(8000)
    async with running_service(tmp_path, vosk_model_path) as service:
        url = service.ws("/ingest/raw")
        await stream_raw(url, call.audio, call.rate, call_id="reused-1", speed=0)
        first = await service.finished_call("reused-1")
        await stream_raw(url, call.audio, call.rate, call_id="reused-1", speed=0)
        second = await service.finished_call("reused-1~2")
        first_after = await service.finished_call("reused-1")
    assert first_after == first, "the second segment overwrote the first call's record"
    assert "pan_detected" in findings_by_rule(second)["pci.pan-spoken"]  # the second segment's alerts exist
    assert second["call"]["metadata"].get("segment_of") == "reused-1", second["call"]["metadata"]
    ids = {f["finding_id"] for f in first["findings"]} & {f["finding_id"] for f in second["findings"]}
    assert not ids, f"finding ids shared by both segments: {ids}"
    assert json.dumps(second).count("reused-1~2") >= 1
