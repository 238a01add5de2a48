"""Raw protocol core (docs/raw-protocol.md): start validation, interleaved frames, end, every refusal's close code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rules.events import Speaker
from streams.protocols import AudioChunk, AudioFormat, CallClosed, CallOpened, Close, LegSpec, Limits
from streams.protocols.raw import RawProtocol


def start(**overrides: Any) -> str:
    message: dict[str, Any] = {
        "type": "start",
        "call_id": "call-2024.05.01:0001",
        "encoding": "pcm_s16le",
        "sample_rate": 8000,
        "channels": [{"role": "agent"}, {"role": "customer", "label": "caller"}],
        "metadata": {"agent": "a-42", "queue": "billing", "direction": "inbound", "attempt": 2, "vip": True},
    }
    message.update(overrides)
    return json.dumps(message)


def test_full_call_start_frames_end() -> None:
    proto = RawProtocol()
    (opened,) = proto.receive_text(start())
    assert opened == CallOpened(
        call_id="call-2024.05.01:0001",
        protocol="raw",
        audio=AudioFormat("pcm_s16le", 8000, 2),
        legs=(LegSpec(0, Speaker.AGENT, "agent"), LegSpec(1, Speaker.CUSTOMER, "caller")),
        metadata={"agent": "a-42", "queue": "billing", "direction": "inbound", "attempt": "2", "vip": "true"},
    )
    frame = b"\x10\x00\x20\x00" * 160
    assert proto.receive_bytes(frame) == [AudioChunk((0, 1), frame, 0)]
    assert proto.receive_bytes(frame[:4]) == [AudioChunk((0, 1), frame[:4], 160)]
    assert proto.receive_text('{"type": "end"}') == [
        CallClosed("call-2024.05.01:0001", "end"),
        Close(1000, "end of call"),
    ]
    assert proto.receive_bytes(frame) == []


@pytest.mark.parametrize("encoding", ["mulaw", "alaw", "pcm_u8"])
def test_one_byte_encodings_accept_any_whole_frame(encoding: str) -> None:
    proto = RawProtocol()
    proto.receive_text(start(encoding=encoding, channels=[{"role": "unknown"}]))
    assert proto.receive_bytes(b"\x00" * 3) == [AudioChunk((0,), b"\x00" * 3, 0)]


@pytest.mark.parametrize(
    ("overrides", "code", "hint"),
    [
        ({"sample_rate": 0}, 1003, "sample rate"),
        ({"sample_rate": 48001}, 1003, "sample rate"),
        ({"sample_rate": "8000"}, 1003, "sample rate"),
        ({"sample_rate": True}, 1003, "sample rate"),
        ({"encoding": "opus"}, 1003, "encoding"),
        ({"channels": []}, 1007, "channels"),
        ({"channels": [{"role": "agent"}] * 9}, 1007, "channels"),
        ({"channels": [{"role": "boss"}]}, 1007, "role"),
        ({"channels": ["agent"]}, 1007, "role"),
        ({"channels": [{"role": "agent", "label": ""}]}, 1007, "label"),
        ({"call_id": "../../etc/passwd"}, 1007, "call id"),
        ({"call_id": "x" * 129}, 1007, "call id"),
        ({"call_id": ""}, 1007, "call id"),
        ({"call_id": 42}, 1007, "call id"),
        ({"metadata": ["a"]}, 1007, "metadata"),
        ({"metadata": {str(i): i for i in range(65)}}, 1008, "metadata"),
        ({"metadata": {"note": "n" * 513}}, 1008, "metadata"),
    ],
)
def test_invalid_start_frames_are_refused_with_a_reason(overrides: dict[str, Any], code: int, hint: str) -> None:
    (close,) = RawProtocol().receive_text(start(**overrides))
    assert isinstance(close, Close) and close.code == code
    assert hint in close.reason and len(close.reason.encode()) <= 123


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", 1007),
        ("[]", 1007),
        ('{"type": "end"}', 1002),
        ('{"type": "pause"}', 1002),
        ("{}", 1002),
    ],
)
def test_bad_or_out_of_order_control_frames(text: str, code: int) -> None:
    (close,) = RawProtocol().receive_text(text)
    assert isinstance(close, Close) and close.code == code


def test_audio_before_start_and_duplicate_start_are_protocol_errors() -> None:
    (close,) = RawProtocol().receive_bytes(b"\x00\x00")
    assert isinstance(close, Close) and close.code == 1002
    proto = RawProtocol()
    proto.receive_text(start())
    outputs = proto.receive_text(start())
    assert outputs[0] == CallClosed("call-2024.05.01:0001", "error")
    assert isinstance(outputs[1], Close) and outputs[1].code == 1002


def test_frame_length_must_be_whole_samples_of_every_channel() -> None:
    proto = RawProtocol()
    proto.receive_text(start())
    outputs = proto.receive_bytes(b"\x00" * 6)  # 2 bytes x 2 channels does not divide 6
    close = outputs[-1]
    assert isinstance(close, Close) and close.code == 1007
    assert "multiple of 4" in close.reason


def test_size_limits_refuse_2_mib_frames_and_long_text() -> None:
    proto = RawProtocol()
    proto.receive_text(start())
    close = proto.receive_bytes(b"\x00" * (2 * 1024 * 1024))[-1]
    assert isinstance(close, Close) and close.code == 1009
    (close,) = RawProtocol(Limits(max_text_bytes=100)).receive_text(start())
    assert isinstance(close, Close) and close.code == 1009
