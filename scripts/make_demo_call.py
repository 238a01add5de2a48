"""Synthesize the bundled demo call (demo/demo-call.wav + labels) with espeak-ng and real spoken digits; run once."""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.synth import Turn, render_call, write_wav
from rules.events import Speaker

REPO = Path(__file__).resolve().parents[1]
FSDD = REPO / ".." / "shared" / "data" / "audio" / "fsdd"
A, C = Speaker.AGENT, Speaker.CUSTOMER
TEST_CARD = "4111111111111111"  # Visa's well-known test number
SCRIPT = [
    Turn(A, "good morning, thank you for calling acme bank. my name is sam.", speed=130),
    Turn(C, "good morning. i have a question about my bill."),
    Turn(A, "sure. this call may be recorded for quality and training purposes. is that okay with you?"),
    Turn(C, "yes, i agree."),
    Turn(A, "great. how can i help you today?"),
    Turn(C, "i would like to pay my bill with a card."),
    Turn(A, "sure. please read me the card number."),
    Turn(C, "it is", digits=TEST_CARD),
    Turn(A, "thank you. now the three digit security code, please."),
    Turn(C, "", digits="737"),
    Turn(A, "your payment is complete. is there anything else?"),
    Turn(C, "no thanks, goodbye."),
]
VOICES = {Speaker.AGENT: "en-us+f3", Speaker.CUSTOMER: "en-us+klatt4"}


def main() -> None:
    out = REPO / "demo"
    call = render_call(SCRIPT, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=VOICES, fsdd_dir=FSDD.resolve())
    write_wav(out / "demo-call.wav", call.audio, call.rate)
    labels = {
        "description": "Bundled demo call: agent on channel 0 (left), customer on channel 1 (right), 8 kHz s16 stereo. "
        "Speech by espeak-ng; the card number and security code by a real voice (Free Spoken Digit Dataset, "
        "CC BY-SA 4.0).",
        "agent_channel": call.agent_channel,
        "turns": [
            {"speaker": str(t.speaker), "text": t.text, "start": round(t.start, 3), "end": round(t.end, 3)}
            for t in call.labels
        ],
    }
    (out / "demo-call.json").write_text(json.dumps(labels, indent=2) + "\n")
    print(f"wrote {out / 'demo-call.wav'} ({call.duration:.1f} s)")


if __name__ == "__main__":
    main()
