"""Acceptance: Callwarden's raw protocol end to end against the real service (real Vosk model, real rules)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evaluation.feeders import stream_raw
from tests.monitor.ingest_support import TEST_PAN, card_call, findings_by_rule, record, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def test_raw_protocol_call_is_transcribed_checked_and_scored(
    tmp_path: Path, vosk_model_path: Path, espeak: str, shared_data: Path
) -> None:
    call = card_call(8000, agent_channel=0)
    async with running_service(tmp_path, vosk_model_path) as service:
        began = time.monotonic()
        feed = await stream_raw(
            service.ws("/ingest/raw"), call.audio, call.rate, ("agent", "customer"), call_id="raw-acceptance-1",
            speed=0, metadata={"agent": "a-42", "queue": "billing"},
        )  # fmt: skip
        detail = await service.finished_call(feed.call_id)
        elapsed = time.monotonic() - began
    assert (feed.close_code, feed.close_reason) == (1000, "end of call")
    summary, report = detail["call"], detail["report"]
    rules = findings_by_rule(detail)
    figures = {
        "audio_s": round(call.duration, 1),
        "wall_s": round(elapsed, 1),
        "findings": rules,
        "score": summary["score"],
        "transcript": [t["text"] for t in detail["transcript"]],
    }
    record(figures, "raw")
    assert summary["status"] == "completed" and summary["end_reason"] == "end"
    assert summary["protocol"] == "raw" and summary["agent"] == "a-42"
    assert summary["audio_seconds"] == pytest.approx(call.duration, abs=0.05)
    assert "pan_detected" in rules["pci.pan-spoken"]
    assert "said" in rules["disclosure.recording"]
    assert summary["passed"] is False and report["passed"] is False  # a spoken card number fails the call
    assert summary["score"] == report["score"] and isinstance(report["score"], int | float)
    speakers = {t["speaker"] for t in detail["transcript"]}
    assert speakers == {"agent", "customer"}
    stored = repr(detail)
    assert TEST_PAN not in stored and "five one zero five one zero" not in stored  # redacted everywhere
