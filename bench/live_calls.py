"""Labelled calls for the live benchmark: espeak-ng agent/customer turns plus a card number read by a real voice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.synth import Pcm, SynthCall, Turn, render_call
from rules.events import Speaker
from streams.codecs import AudioFormat, Encoding, decode, encode

REPO = Path(__file__).resolve().parents[1]
FSDD = (REPO / ".." / "shared" / "data" / "audio" / "fsdd").resolve()
VOICES = {Speaker.AGENT: "en-us+f3", Speaker.CUSTOMER: "en-us+klatt4"}
AGENT_SPEED, CUSTOMER_SPEED = 130, 140
LOUD = 200  # |sample| above this is speech (the FSDD clips are trimmed at the same threshold)

# A well-known test card number read by two FSDD voices. Only readings every run detected at N=1 are used, so a
# missed alert under load means load: 5555555555554444 read by lucas was never detected even alone (an ASR/rules
# accuracy matter for bench/alert_latency.py and callwarden eval, not capacity).
VARIANTS: tuple[tuple[str, str], ...] = (
    ("4111111111111111", "lucas"),
    ("4111111111111111", "george"),
)


@dataclass(frozen=True, slots=True)
class LabelledCall:
    """One rendered call: stereo audio (agent on channel 0) and the audio times of its labelled events (s)."""

    name: str
    audio: Pcm
    rate: int
    pan: str
    disclosure_end: float  # end of the agent turn carrying the recording disclosure and consent question
    consent_end: float  # end of the customer's "yes"
    card_end: float  # end of the last spoken digit of the card number (last loud sample)

    @property
    def duration(self) -> float:
        return float(self.audio.shape[0]) / self.rate

    def legs(self) -> list[bytes]:
        """Each leg as s16le mono bytes, after the mu-law round trip the Twilio path applies."""
        out = []
        for channel in range(self.audio.shape[1]):
            wire = encode(np.ascontiguousarray(self.audio[:, channel]), Encoding.MULAW)
            out.append(decode(wire, AudioFormat(Encoding.MULAW, self.rate, 1)).astype("<i2").tobytes())
        return out


def script(pan: str, digit_voice: str) -> list[Turn]:
    """The scripted call: warm-up, disclosure + consent question, consent, card prompt, card number, close."""
    a, c = Speaker.AGENT, Speaker.CUSTOMER
    return [
        Turn(c, "hello, good morning.", speed=CUSTOMER_SPEED),
        Turn(
            a,
            "thank you for calling acme bank. this call may be recorded for quality and training purposes. "
            "do you consent to this call being recorded?",
            speed=AGENT_SPEED,
        ),
        Turn(c, "yes, that is fine.", speed=CUSTOMER_SPEED),
        Turn(a, "thank you. please read me the card number.", speed=AGENT_SPEED),
        Turn(c, "it is", speed=CUSTOMER_SPEED, digits=pan, digit_voice=digit_voice),
        Turn(a, "thank you. your payment is complete. goodbye.", speed=AGENT_SPEED),
    ]


def _last_loud(audio: Pcm, channel: int, start: float, end: float, rate: int) -> float:
    seg = np.abs(audio[round(start * rate) : round(end * rate), channel].astype(np.int32))
    loud = np.flatnonzero(seg > LOUD)
    return start + (int(loud[-1]) + 1) / rate if loud.size else end


def render(pan: str, digit_voice: str, name: str) -> LabelledCall:
    """Render one labelled call (8 kHz, agent on channel 0)."""
    call: SynthCall = render_call(
        script(pan, digit_voice), rate=8000, agent_channel=0, gap=0.5, tail=1.5, voices=VOICES, fsdd_dir=FSDD
    )
    labels = call.labels
    customer = 1 - call.agent_channel
    return LabelledCall(
        name=name,
        audio=call.audio,
        rate=call.rate,
        pan=pan,
        disclosure_end=labels[1].end,
        consent_end=labels[2].end,
        card_end=_last_loud(call.audio, customer, labels[4].start, labels[4].end, call.rate),
    )


def corpus(variants: Sequence[tuple[str, str]] = VARIANTS) -> list[LabelledCall]:
    """One rendered call per (PAN, digit voice) variant."""
    return [render(pan, voice, f"v{i}-{voice}-{pan[:4]}") for i, (pan, voice) in enumerate(variants)]
