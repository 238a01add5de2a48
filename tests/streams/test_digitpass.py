"""The digit pass on the live streaming path with the real model: it runs around a card reading by a real voice,
its readings are timed on the call's audio clock, and it never runs on a call without payment talk or digits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
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
from streams.digitpass import DigitPassConfig, DigitPassStats, has_payment_phrase
from streams.offline import run_audio
from streams.pipeline import Transcription
from streams.transcriber import AsrConfig, LegIdentity, LegTranscriber
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model
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


def test_the_rewind_buffer_holds_at_least_the_lookback() -> None:
    with pytest.raises(ValueError, match="rewind_seconds"):
        DigitPassConfig(lookback_seconds=2.0, rewind_seconds=1.0)
    assert DigitPassConfig().rewind_seconds >= DigitPassConfig().lookback_seconds


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


@pytest.mark.slow
def test_a_leg_armed_after_it_heard_the_answer_decodes_it_from_the_payment_phrase(shared_data: Path) -> None:
    """Legs decode in parallel: the customer's leg can be seconds past the agent's card prompt when that prompt is
    recognized. The late arm carries the prompt's time, and the pass decodes the reading from there (the ring
    buffer holds it) instead of from 2 s before the moment it was armed, which lost the first digits."""
    call = build_calls(("lucas",), ("5555555555554444",), DEV_TAKES, shared_data / "audio" / "fsdd")[0]
    model, _rate = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    only_arm = DigitPassConfig(trigger_digits=64)  # the first pass's digit run would open it too: only the arm here
    leg = LegTranscriber(LegIdentity("late", 1, Speaker.CUSTOMER, 8000), model, AsrConfig(digit_pass=only_arm))
    customer = np.frombuffer(call.audio.data, dtype="<i2").reshape(-1, 2)[:, 1].tobytes()
    late = round((call.reading_start + 4.0) * 8000) * 2  # the prompt is recognized 4 s into the reading
    events = []
    for start in range(0, late, 1600):
        events += leg.accept(customer[start : start + 1600])
    assert leg.digits is not None and not leg.digits.open
    leg.digits.arm(call.reading_start - 0.3)  # the agent's prompt ended just before the customer answered
    for start in range(late, len(customer), 1600):
        events += leg.accept(customer[start : start + 1600])
    events += leg.finish()
    finals = [e for e in events if isinstance(e, DigitReading) and e.final]
    heard = [w for r in finals for w in r.words
             if w.text in READING_DIGITS and call.reading_start - 0.5 <= w.start <= call.reading_end + 0.5]
    assert len(heard) >= 14, [w.text for r in finals for w in r.words]  # the 16 digits, less Vosk's slips
    assert heard[0].start <= call.reading_start + 1.0  # from the first digit on, not from 2 s before the arm
