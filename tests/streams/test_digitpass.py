"""The digit pass on the live streaming path with the real model: it runs around a card reading by a real voice,
its readings are timed on the call's audio clock, and it never runs on a call without payment talk or digits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evaluation.analyze import offline_config
from evaluation.card_readings import DEV_TAKES, build_calls
from evaluation.corpus import VOICES
from evaluation.degrade import g711_round_trip
from evaluation.synth import Turn, render_call
from rules.digit_readings import READING_DIGITS
from rules.events import DigitReading, Event, Speaker, Utterance
from streams.audiofile import EncodedAudio
from streams.codecs import AudioFormat, Encoding
from streams.digitpass import DigitPassStats, has_payment_phrase
from streams.offline import run_audio
from streams.pipeline import Transcription
from streams.transcriber import AsrConfig
from streams.vad import GateConfig


def transcribe(audio: EncodedAudio, gated: bool = False) -> tuple[list[Event], list[DigitPassStats]]:
    """The call's events and its legs' digit-pass stats; `gated`: with voice-activity gating before the recognizer."""
    ran: list[DigitPassStats] = []
    config = offline_config(AsrConfig(gate=GateConfig(enabled=gated)))

    async def main() -> list[Event]:
        events: list[Event] = []
        async with Transcription(config, on_digit_pass=ran.append) as asr:
            await run_audio(asr, audio, events.append, "dp", 0)
        return events

    return asyncio.run(main()), ran


def test_payment_phrases_are_the_pci_rules_own() -> None:
    assert has_payment_phrase("sure please read me the long card number")
    assert has_payment_phrase("i would like to pay my bill")
    assert not has_payment_phrase("i moved house and need to change my address")


@pytest.mark.slow
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_the_digit_pass_reads_a_card_read_by_a_real_voice(shared_data: Path, gated: bool) -> None:
    """Gated too: the gate never skips while the pass is open, and its ring holds the speech before the trigger."""
    call = build_calls(("lucas",), ("5555555555554444",), DEV_TAKES, shared_data / "audio" / "fsdd")[0]
    events, ran = transcribe(call.audio, gated)
    readings = [e for e in events if isinstance(e, DigitReading)]
    finals = [r for r in readings if r.speaker is Speaker.CUSTOMER and r.final]
    assert finals and all(r.channel == 1 for r in finals)

    def inside(reading: DigitReading) -> list[str]:
        return [w.text for w in reading.words
                if w.text in READING_DIGITS and call.reading_start - 0.5 <= w.start <= call.reading_end + 0.5]

    session = max(finals, key=lambda r: len(inside(r)))  # others: e.g. the goodbye after "your payment is complete"
    assert len(inside(session)) >= 14, [w.text for w in session.words]  # (nearly) every digit, on the call's clock
    assert all(0 <= w.start <= w.end for w in session.words)
    stats = [s for s in ran if s.sessions]
    assert stats and sum(s.sessions for s in stats) <= 3
    assert 0 < sum(s.audio_seconds for s in stats) < call.audio.duration


@pytest.mark.slow
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_no_digit_pass_on_a_call_without_payment_talk_or_digits(gated: bool) -> None:
    lines = ("good morning, thank you for calling. how can i help you today?",
             "hello. i moved house and need to change my address.",
             "of course. i have updated your address. is there anything else?", "no, that is all. goodbye.")
    turns = [Turn(Speaker.AGENT if i % 2 == 0 else Speaker.CUSTOMER, text, speed=135) for i, text in enumerate(lines)]
    call = render_call(turns, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=VOICES)
    pcm = g711_round_trip(call.audio, 8000)
    events, ran = transcribe(EncodedAudio(AudioFormat(Encoding.S16LE, 8000, 2), pcm.astype("<i2").tobytes()), gated)
    assert any(isinstance(e, Utterance) and e.final and "address" in e.text for e in events)
    assert not [e for e in events if isinstance(e, DigitReading)]
    assert ran == []  # no leg ever opened it: nothing decoded, nothing spent
