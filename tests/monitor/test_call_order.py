"""A call's output is ordered by audio time across legs: a CVV decoded before the agent's prompt is still redacted.

Real Vosk, real CallSession and CallStream; the host records what leaves the call (store, /live and outbox all
take it from there). The customer's leg is fed, and so decoded, entirely before the agent's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evaluation.synth import SynthCall, Turn, render_call
from monitor.call.session import Arrival, CallSession
from rules.events import CallEnded, Speaker, Utterance
from rules.findings import Finding
from rules.packs import RuleSet, load_packs
from rules.recording_control import ControlEvent
from streams.codecs import AudioFormat
from streams.pipeline import CallStream, PipelineConfig, Transcription
from streams.protocols.base import AudioChunk, CallOpened, LegSpec
from streams.protocols.base import AudioFormat as WireFormat
from streams.transcriber import AsrConfig

pytestmark = pytest.mark.slow

CVV = "737"


class RecordingHost:
    """A CallHost that keeps everything the call hands out."""

    def __init__(self, asr: Transcription) -> None:
        self.asr = asr
        self.ruleset: RuleSet = load_packs()
        self.language = "en"
        self.transcripts: list[tuple[Utterance, str]] = []
        self.found: list[Finding] = []
        self.report: dict[str, Any] = {}

    def open_stream(
        self, call_id: str, fmt: AudioFormat, roles: Mapping[int, Speaker], language: str, metadata: Mapping[str, str]
    ) -> CallStream:
        return self.asr.call(call_id, fmt, roles, language, metadata)

    def audio_received(self, protocol: str, seconds: float) -> None:
        pass

    async def call_started(self, session: CallSession) -> None:
        pass

    async def transcript(self, call_id: str, utterance: Utterance, text: str) -> None:
        self.transcripts.append((utterance, text))

    async def findings(self, findings: list[Finding], arrivals: list[Arrival], wall: float) -> None:
        self.found.extend(findings)

    recording_resume_seconds: float | None = None

    def ruleset_for(self, metadata: Mapping[str, str]) -> RuleSet:
        return self.ruleset

    async def control(self, call_id: str, events: list[ControlEvent], wall: float) -> None:
        raise AssertionError("recording control is off for this host")

    def clock(self, call_id: str, audio_time: float, lag: float) -> None:
        pass

    def alert_refined(self, finding_id: str, arrived_wall: float | None) -> None:
        pass

    async def call_ended(self, session: CallSession, ended: CallEnded, report: dict[str, Any], shed: float) -> None:
        self.report = report

    def call_finished(self, session: CallSession) -> None:
        pass


def cvv_call(fsdd: Path) -> SynthCall:
    a, c = Speaker.AGENT, Speaker.CUSTOMER
    return render_call(
        [
            Turn(a, "now the three digit security code on the back of your card, please.", speed=130),
            Turn(c, "it is", digits=CVV),
            Turn(a, "thank you. your payment is complete."),
        ],
        voices={a: "en-gb", c: "en-us"},  # voices and speed in which Vosk hears "three digit security code"
        fsdd_dir=fsdd,
    )


async def test_a_cvv_decoded_before_the_agents_prompt_is_redacted(vosk_model_path: Path, shared_data: Path) -> None:
    call = cvv_call(shared_data / "audio" / "fsdd")
    legs = (LegSpec(0, Speaker.AGENT, "agent"), LegSpec(1, Speaker.CUSTOMER, "customer"))
    opened = CallOpened("order-1", "raw", WireFormat("pcm_s16le", call.rate, 2), legs)
    config = PipelineConfig(asr=AsrConfig(language="en-us", model_path=str(vosk_model_path)), workers=2)
    async with Transcription(config) as asr:
        host = RecordingHost(asr)
        async with CallSession(host, opened) as session:
            for leg in (1, 0):  # the customer's leg first: its words are decoded before the agent's prompt
                pcm = np.ascontiguousarray(call.audio[:, leg]).tobytes()
                for at in range(0, len(pcm), 3200):
                    await session.audio(AudioChunk((leg,), pcm[at : at + 3200], at // 2))
            await session.end("hangup")
    assert any(f.outcome == "cvv_detected" for f in host.found), [f.outcome for f in host.found]
    texts = [text for _, text in host.transcripts]
    outward = json.dumps([texts, [f.to_json() for f in host.found], host.report])
    assert "seven three seven" not in outward and CVV not in outward, texts
