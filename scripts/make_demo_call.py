"""Synthesize the bundled demo call (demo/demo-call.wav + labels) with espeak-ng; run once, output committed."""

from __future__ import annotations

import json
from pathlib import Path

from rules.events import Speaker
from streams.synth import Turn, render_call, write_wav

A, C = Speaker.AGENT, Speaker.CUSTOMER
SCRIPT = [
    Turn(
        A,
        "thank you for calling acme bank, my name is sam. "
        "this call may be recorded for quality and training purposes. is that okay with you",
    ),
    Turn(C, "yes that is fine"),
    Turn(A, "great. how can i help you today"),
    Turn(C, "i would like to pay my bill with a card"),
    Turn(A, "sure. please read me the card number"),
    Turn(C, "it is four one one one, one one one one, one one one one, one one one one", speed=130),
    Turn(A, "thank you. and the expiry date"),
    Turn(C, "oh four, twenty eight", speed=130),
    Turn(A, "your payment is complete. is there anything else"),
    Turn(C, "no thanks, goodbye"),
]


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "demo"
    voices = {Speaker.AGENT: "en-us", Speaker.CUSTOMER: "en-us+f3"}
    call = render_call(SCRIPT, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=voices)
    write_wav(out / "demo-call.wav", call.audio, call.rate)
    labels = {
        "description": "Bundled demo call: agent on channel 0 (left), customer on channel 1 (right), 8 kHz s16 stereo.",
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
