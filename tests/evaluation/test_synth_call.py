"""Acceptance: a scripted stereo 8 kHz call (espeak-ng) comes out with the right speakers and word times."""

from __future__ import annotations

from pathlib import Path

import jiwer
import pytest

from evaluation.synth import Turn, TurnLabel, render_call
from rules.events import Speaker, Utterance
from streams.audiofile import EncodedAudio
from streams.codecs import AudioFormat, Encoding, encode
from tests.streams.asr_support import pipeline_events, tuned_model

pytestmark = pytest.mark.slow

SCRIPT = (
    Turn(Speaker.AGENT, "thank you for calling the bank this call is recorded for quality and training"),
    Turn(Speaker.CUSTOMER, "hello i would like to check my account balance please"),
    Turn(Speaker.AGENT, "of course may i have your full name"),
    Turn(Speaker.CUSTOMER, "my name is john smith"),
    Turn(Speaker.AGENT, "thank you one moment please"),
)
TOLERANCE = 0.3  # seconds between recognized word times and the rendered turn boundaries


def _turn_of(utterance: Utterance, labels: tuple[TurnLabel, ...]) -> TurnLabel:
    overlapping = [
        lab for lab in labels if utterance.start < lab.end + TOLERANCE and utterance.end > lab.start - TOLERANCE
    ]
    assert len(overlapping) == 1, (utterance.text, utterance.start, utterance.end)
    return overlapping[0]


@pytest.mark.parametrize("agent_channel", [0, 1])
def test_scripted_call_speakers_and_turn_times(espeak: str, vosk_model_path: Path, agent_channel: int) -> None:
    call = render_call(SCRIPT, rate=8000, agent_channel=agent_channel)
    wire = EncodedAudio(AudioFormat(Encoding.MULAW, 8000, 2), encode(call.audio, Encoding.MULAW))
    events = pipeline_events(wire, tuned_model(vosk_model_path), agent_channel=agent_channel)
    finals = [e for e in events if isinstance(e, Utterance) and e.final and e.words]
    by_turn: dict[TurnLabel, list[Utterance]] = {}
    for utterance in finals:
        turn = _turn_of(utterance, call.labels)
        assert utterance.speaker is turn.speaker, (utterance.text, turn.text)
        expected_channel = agent_channel if turn.speaker is Speaker.AGENT else 1 - agent_channel
        assert utterance.channel == expected_channel
        by_turn.setdefault(turn, []).append(utterance)
    assert set(by_turn) == set(call.labels), "every turn was recognized"
    for turn, utterances in by_turn.items():
        words = [w for u in utterances for w in u.words]
        assert abs(words[0].start - turn.start) <= TOLERANCE, (turn.text, words[0], turn.start)
        assert abs(words[-1].end - turn.end) <= TOLERANCE, (turn.text, words[-1], turn.end)
    said = [turn.text for turn in call.labels]
    heard = [" ".join(w.text for u in by_turn[turn] for w in u.words) for turn in call.labels]
    # espeak-ng voices at 8 kHz on the small model: the words are rough (measured WER ≈ 0.35), times are not
    assert jiwer.wer(said, heard) <= 0.5, heard
