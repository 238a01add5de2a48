"""Hypothesis fuzzing of every protocol core: arbitrary frames never raise, and errors become proper Close outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.protocols import AudioForkProtocol, AudioHookProtocol, RawProtocol, TwilioProtocol
from streams.protocols.base import (
    AudioChunk,
    CallClosed,
    CallOpened,
    Close,
    IngestProtocol,
    Limits,
    Notice,
    Output,
    ProtocolCore,
    SendText,
)

ALLOWED_CODES = {1000, 1002, 1003, 1007, 1008, 1009}
SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0"
SMALL_LIMITS = Limits(max_text_bytes=4096, max_binary_bytes=4096)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=12), st.floats(allow_nan=False))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def shaped(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[str]:
    """JSON objects that use the protocol's own field names with plausible or random values."""
    return st.fixed_dictionaries({}, optional={k: v | json_values for k, v in keys.items()}).map(json.dumps)


TWILIO = shaped(
    {
        "event": st.sampled_from(["connected", "start", "media", "stop", "dtmf", "mark"]),
        "sequenceNumber": st.integers(0, 9).map(str),
        "start": st.fixed_dictionaries(
            {"callSid": st.sampled_from(["CA1", "bad/id"]), "tracks": st.just(["inbound", "outbound"])},
            optional={"customParameters": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3)},
        ),
        "media": st.fixed_dictionaries(
            {"track": st.sampled_from(["inbound", "outbound", "x"]), "payload": st.sampled_from(["//8=", "AA", "*"])},
            optional={"timestamp": st.integers(0, 10**6).map(str)},
        ),
    }
)
AUDIOHOOK = shaped(
    {
        "version": st.just("2"),
        "id": st.just(SESSION),
        "type": st.sampled_from(["open", "ping", "close", "paused", "resumed", "discarded", "update", "error"]),
        "seq": st.integers(0, 6),
        "serverseq": st.integers(0, 6),
        "position": st.sampled_from(["PT0S", "PT1.5S", "PT.S", "1s"]),
        "parameters": st.fixed_dictionaries(
            {},
            optional={
                "organizationId": st.just(SESSION),
                "conversationId": st.sampled_from([SESSION, "00000000-0000-0000-0000-000000000000"]),
                "media": st.just([{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}]),
                "start": st.sampled_from(["PT1S", "PT99999999S"]),
                "discarded": st.sampled_from(["PT0.5S", "x"]),
            },
        ),
    }
)
AUDIOFORK = shaped(
    {
        "callSid": st.sampled_from(["c-1", "../x"]),
        "sampleRate": st.integers(-1, 70000),
        "mixType": st.sampled_from(["mono", "mixed", "stereo", "5.1"]),
    }
)
RAW = shaped(
    {
        "type": st.sampled_from(["start", "end", "other"]),
        "call_id": st.sampled_from(["c-1", "", "a b"]),
        "encoding": st.sampled_from(["pcm_s16le", "mulaw", "alaw", "pcm_u8", "opus"]),
        "sample_rate": st.integers(-1, 50000),
        "channels": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["agent", "customer", "x"])}), max_size=9),
        "metadata": st.dictionaries(st.text(max_size=8), scalars, max_size=4),
    }
)


def audiohook_message(msg_type: str, seq: int, parameters: dict[str, Any]) -> str:
    return json.dumps(
        {
            "version": "2",
            "id": SESSION,
            "type": msg_type,
            "seq": seq,
            "serverseq": 0,
            "position": "PT0S",
            "parameters": parameters,
        }
    )


AUDIOHOOK_OPEN = {
    "organizationId": SESSION,
    "conversationId": SESSION,
    "participant": {},
    "media": [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}],
}
# Well-formed messages the random sequences can start from, so fuzzing reaches the states after opening.
CANNED: dict[str, list[str]] = {
    "twilio": [
        json.dumps({"event": "start", "start": {"callSid": "CA1", "tracks": ["inbound", "outbound"]}}),
        json.dumps({"event": "media", "media": {"track": "inbound", "timestamp": "20", "payload": "//8="}}),
        json.dumps({"event": "stop"}),
    ],
    "audiohook": [
        audiohook_message("open", 1, AUDIOHOOK_OPEN),
        *(audiohook_message(t, n, {}) for t in ("ping", "paused", "close") for n in (2, 3)),
        audiohook_message("resumed", 3, {"start": "PT1S", "discarded": "PT2S"}),
    ],
    "audiofork": [json.dumps({"callSid": "c-1", "sampleRate": 16000, "mixType": "stereo"})],
    "raw": [
        json.dumps(
            {
                "type": "start",
                "call_id": "c-1",
                "encoding": "pcm_s16le",
                "sample_rate": 8000,
                "channels": [{"role": "agent"}, {"role": "customer"}],
            }
        ),
        json.dumps({"type": "end"}),
    ],
}

Frame = tuple[str, str | bytes]
CASES: dict[str, tuple[Callable[[], ProtocolCore], st.SearchStrategy[str]]] = {
    "twilio": (lambda: TwilioProtocol(limits=SMALL_LIMITS), TWILIO),
    "audiohook": (lambda: AudioHookProtocol(session_id=SESSION, limits=SMALL_LIMITS), AUDIOHOOK),
    "audiofork": (lambda: AudioForkProtocol(limits=SMALL_LIMITS), AUDIOFORK),
    "raw": (lambda: RawProtocol(limits=SMALL_LIMITS), RAW),
}


def frames(shaped_text: st.SearchStrategy[str], canned: list[str]) -> st.SearchStrategy[list[Frame]]:
    text = st.one_of(st.sampled_from(canned), shaped_text, st.text(max_size=200), st.text(max_size=5000))
    data = st.one_of(st.binary(max_size=64), st.binary(min_size=4090, max_size=4100), st.just(b"\x00" * 320))
    frame = st.one_of(text.map(lambda t: ("text", t)), data.map(lambda b: ("bytes", b)))
    return st.lists(frame, max_size=12)


def check_outputs(outputs: list[Output]) -> bool:
    """Every output is one of ours; a Close carries an allowed code and a short reason. True if closed."""
    closed = False
    for out in outputs:
        assert isinstance(out, CallOpened | AudioChunk | SendText | CallClosed | Close | Notice)
        if isinstance(out, SendText):
            json.loads(out.text)
        if isinstance(out, Close):
            assert out.code in ALLOWED_CODES, out
            assert 0 < len(out.reason.encode("utf-8")) <= 123
            closed = True
    return closed


def play(proto: IngestProtocol, sequence: list[Frame]) -> bool:
    """Feed a frame sequence to a protocol core, then lose the connection, checking every output on the way: nothing
    after a Close, at most one call opened and exactly as many closed. Returns whether the core closed the stream."""
    opened = closed_calls = 0
    closed = False
    for kind, payload in sequence:
        outputs = proto.receive_text(payload) if isinstance(payload, str) else proto.receive_bytes(payload)
        if closed:
            assert outputs == [], f"{kind} after Close produced {outputs}"
        closed = check_outputs(outputs) or closed
        opened += sum(isinstance(out, CallOpened) for out in outputs)
        closed_calls += sum(isinstance(out, CallClosed) for out in outputs)
    final = proto.connection_lost()
    check_outputs(final)
    closed_calls += sum(isinstance(out, CallClosed) for out in final)
    assert opened <= 1 and closed_calls == opened, (opened, closed_calls)
    assert proto.connection_lost() == []
    return closed


@pytest.mark.parametrize("name", sorted(CASES))
def test_random_frames_never_raise_and_close_properly(name: str) -> None:
    factory, shaped_text = CASES[name]

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(frames(shaped_text, CANNED[name]))
    def run(sequence: list[Frame]) -> None:
        play(factory(), sequence)

    run()
