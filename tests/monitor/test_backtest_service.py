"""Acceptance 1 of issue #20 on a small scale: calls streamed through the live service (Twilio, the real Vosk model)
are backtested; the unchanged packs report zero changes (the carried pci verdict of a card call included), and a
lowered disclosure window names exactly the calls whose stored disclosure ended after it. The corpus-scale run is
bench/backtest.py (figures in BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from evaluation.synth import Turn, render_call
from monitor.backtest.runner import PackSource, Selection, backtest
from monitor.store.database import Store
from rules.events import Speaker
from rules.packs import BUILTIN_PACKS_DIR
from tests.monitor.ingest_support import VOICES, card_call, record, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

A, C = Speaker.AGENT, Speaker.CUSTOMER
RULE = "disclosure.recording"
EARLY = (
    Turn(A, "thank you for calling acme bank. this call may be recorded for quality and training purposes.", speed=130),
    Turn(C, "hi. i would like to change my address please.", speed=140),
    Turn(A, "of course. what is the new street name?", speed=130),
)
MID = (
    Turn(A, "good morning, you are through to the travel desk.", speed=130),
    Turn(C, "hi. i want to change the hotel for my holiday in portugal.", speed=140),
    Turn(A, "this call may be recorded for quality and training purposes.", at=13.0, speed=130),
    Turn(C, "that is fine.", speed=140),
)


def window_packs(directory: Path, window: int) -> Path:
    directory.mkdir()
    text = (BUILTIN_PACKS_DIR / "recording-disclosure.yaml").read_text()
    changed = text.replace("window_seconds: 30", f"window_seconds: {window}")
    (directory / "recording-disclosure.yaml").write_text(changed)
    return directory


def said_after(store: Store, window: float) -> list[str]:
    """Calls whose stored disclosure passed but ended after `window` seconds: those a `window` must fail."""
    out = []
    for call_id in store.ended_call_ids():
        report = store.get_report(call_id) or {}
        item = next((i for i in report.get("items", ()) if i["rule_id"] == RULE), None)
        said = [f for f in report.get("findings", ()) if f["rule_id"] == RULE and f["outcome"] == "said"]
        if item and item["status"] == "passed" and said and said[0]["end"] > report["started_at"] + window:
            out.append(call_id)
    return sorted(out)


async def test_backtest_of_live_calls(tmp_path: Path, vosk_model_path: Path) -> None:
    data = tmp_path / "data"
    async with running_service(data, vosk_model_path) as svc:
        ids = []
        for audio in (card_call().audio, render_call(EARLY, gap=0.5, tail=1.0, voices=VOICES).audio,
                      render_call(MID, gap=0.5, tail=1.0, voices=VOICES).audio):  # fmt: skip
            fed = await stream_twilio(svc.ws("/ingest/twilio"), audio, speed=0)
            await svc.finished_call(fed.call_id)
            ids.append(fed.call_id)
    with Store.open(data / "callwarden.sqlite3") as store:
        card = store.get_report(ids[0])
        assert card is not None
        assert next(i["status"] for i in card["items"] if i["rule_id"] == "pci.pan-spoken") == "failed"
        same = backtest(store, PackSource(), Selection())
        assert same["calls"] == 3 and same["skipped"] == {}
        assert same["changed_calls"] == [], same
        assert "pci.pan-spoken" in same["carried_rules"]
        assert same["rules"]["pci.pan-spoken"]["carried"] and same["rules"]["pci.pan-spoken"]["unchanged"] == 3
        expected = said_after(store, 10)
        assert ids[2] in expected and ids[1] not in expected, expected
        changed = backtest(store, PackSource(window_packs(tmp_path / "packs", 10)), Selection(), workers=2)
        assert changed["changed_calls"] == expected
        assert sorted(changed["rules"][RULE]["newly_failing"]) == expected
        record({"calls": 3, "expected": len(expected), "changed": len(changed["changed_calls"])}, "backtest_live")
