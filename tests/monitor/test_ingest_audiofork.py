"""Acceptance: FreeSWITCH mod_audio_fork / jambonz streams into the live service (16 kHz stereo L16, real model)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from evaluation.synth import Pcm
from monitor.config.settings import AudioForkConfig, ConfigError, load_config
from tests.monitor.ingest_support import TEST_PAN, card_call, findings_by_rule, record, running_service


def test_audio_fork_mix_and_rate_come_from_the_config_and_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "callwarden.yaml"
    config.write_text("audiofork: {mix: stereo, sample_rate: 16000, agent_channel: 0}\n")
    assert load_config(config, env={}).audiofork == AudioForkConfig(agent_channel=0, mix="stereo", sample_rate=16000)
    for bad, field in (("mix: quad", "audiofork.mix"), ("sample_rate: 0", "audiofork.sample_rate"),
                       ("agent_channel: 2", "audiofork.agent_channel")):  # fmt: skip
        config.write_text(f"audiofork: {{{bad}}}\n")
        with pytest.raises(ConfigError, match=f"{config}: {field} must be"):
            load_config(config, env={})


@dataclass(frozen=True, slots=True)
class ForkResult:
    subprotocol: str | None
    close_code: int | None
    close_reason: str


async def stream_fork(url: str, subprotocol: str, metadata: str, audio: Pcm, rate: int) -> ForkResult:
    """What mod_audio_fork does: metadata text frame, 20 ms L16 frames (interleaved), then a zero-length frame."""
    step = rate // 50
    async with connect(url, subprotocols=[Subprotocol(subprotocol)], compression=None) as ws:
        await ws.send(metadata)
        for offset in range(0, audio.shape[0], step):
            await ws.send(audio[offset : offset + step].astype("<i2").tobytes())
        await ws.send(b"")
        await ws.wait_closed()
        return ForkResult(ws.subprotocol, ws.close_code, ws.close_reason or "")


@pytest.mark.parametrize(
    ("subprotocol", "agent_channel", "jambonz_metadata"),
    [("audio.jambonz.org", 0, True), ("audio.drachtio.org", 1, False)],
    ids=["jambonz-agent-left", "drachtio-agent-right"],
)
@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_audio_fork_stereo_16k_call_is_checked_and_scored(
    tmp_path: Path,
    vosk_model_path: Path,
    espeak: str,
    shared_data: Path,
    subprotocol: str,
    agent_channel: int,
    jambonz_metadata: bool,
) -> None:
    call = card_call(16000, agent_channel=agent_channel)
    call_id = f"fork-{agent_channel}-{subprotocol.split('.')[1]}"
    if jambonz_metadata:  # jambonz `listen` says how it streams
        meta = {"callSid": call_id, "from": "+15551230000", "to": "+15559870000", "direction": "inbound",
                "sampleRate": 16000, "mixType": "stereo"}  # fmt: skip
    else:  # mod_audio_fork passes the dialplan's JSON through; mix and rate come from our config
        meta = {"uuid": call_id, "from": "+15551230000", "to": "+15559870000", "agent": "a-7"}
    fork = AudioForkConfig(agent_channel=agent_channel, mix="stereo", sample_rate=16000)
    async with running_service(tmp_path, vosk_model_path, audiofork=fork) as service:
        began = time.monotonic()
        result = await stream_fork(service.ws("/ingest/audiofork"), subprotocol, json.dumps(meta), call.audio, 16000)
        detail = await service.finished_call(call_id)
        elapsed = time.monotonic() - began
        assert await service.metric("callwarden_active_calls") == 0
    summary, rules = detail["call"], findings_by_rule(detail)
    transcript = [(t["channel"], t["speaker"], t["text"]) for t in detail["transcript"]]
    figures = {"audio_s": round(call.duration, 1), "wall_s": round(elapsed, 1), "findings": rules,
               "score": summary["score"], "transcript": transcript}  # fmt: skip
    record(figures, f"audiofork {subprotocol} agent={agent_channel}")
    assert result.subprotocol == subprotocol  # negotiated and echoed
    assert (result.close_code, result.close_reason) == (1000, "end of stream")
    assert summary["protocol"] == "audiofork" and summary["status"] == "completed" and summary["end_reason"] == "end"
    assert summary["metadata"]["subprotocol"] == subprotocol and summary["metadata"]["mix"] == "stereo"
    assert summary["audio_seconds"] == pytest.approx(call.duration, abs=0.05)
    assert "pan_detected" in rules["pci.pan-spoken"] and "said" in rules["disclosure.recording"]
    assert summary["passed"] is False and summary["max_severity"] == "critical"
    assert {channel: speaker for channel, speaker, _ in transcript} == {
        agent_channel: "agent",
        1 - agent_channel: "customer",
    }
    agent_lines = " ".join(text for _, speaker, text in transcript if speaker == "agent")
    assert "recorded" in agent_lines and "card" in agent_lines  # the agent's words on the agent leg
    assert TEST_PAN not in repr(detail)
