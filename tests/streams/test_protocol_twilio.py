"""Twilio Media Streams core: the connected → start → media → stop sequence, metadata, malformed and stray input."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from rules.events import Speaker
from streams.protocols import AudioChunk, AudioFormat, CallClosed, CallOpened, Close, LegSpec, Limits, Notice
from streams.protocols.twilio import TwilioProtocol

CALL_SID = "CA0123456789abcdef0123456789abcdef"
STREAM_SID = "MZ0123456789abcdef0123456789abcdef"


def frame(event: str, seq: int, **body: Any) -> str:
    return json.dumps({"event": event, "sequenceNumber": str(seq), "streamSid": STREAM_SID, **body})


def start(seq: int = 1, custom: dict[str, str] | None = None, tracks: list[str] | None = None) -> str:
    return frame(
        "start",
        seq,
        start={
            "accountSid": "AC0123",
            "streamSid": STREAM_SID,
            "callSid": CALL_SID,
            "tracks": tracks or ["inbound", "outbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": custom or {},
        },
    )


def media(seq: int, track: str, payload: bytes, timestamp: int | None) -> str:
    body: dict[str, Any] = {"track": track, "chunk": str(seq), "payload": base64.b64encode(payload).decode()}
    if timestamp is not None:
        body["timestamp"] = str(timestamp)
    return frame("media", seq, media=body)


def started(proto: TwilioProtocol, **kwargs: Any) -> CallOpened:
    assert proto.receive_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})) == []
    (opened,) = proto.receive_text(start(**kwargs))
    assert isinstance(opened, CallOpened)
    return opened


def test_full_call_opens_streams_both_legs_by_timestamp_and_closes_on_stop() -> None:
    proto = TwilioProtocol()
    opened = started(proto, custom={"token": "s3cret", "agent_id": "a-17", "queue": "billing", "direction": "in"})
    assert opened.call_id == CALL_SID
    assert opened.audio == AudioFormat("mulaw", 8000, 1)
    assert opened.legs == (LegSpec(0, Speaker.CUSTOMER, "inbound"), LegSpec(1, Speaker.AGENT, "outbound"))
    assert opened.auth_token == "s3cret"
    assert "token" not in opened.metadata
    assert opened.metadata["agent"] == "a-17"
    assert opened.metadata["queue"] == "billing"
    assert opened.metadata["direction"] == "in"
    assert opened.metadata["stream_sid"] == STREAM_SID

    inbound, outbound = b"\xff" * 160, b"\x7f" * 160
    assert proto.receive_text(media(2, "inbound", inbound, 0)) == [AudioChunk((0,), inbound, 0)]
    assert proto.receive_text(media(3, "outbound", outbound, 20)) == [AudioChunk((1,), outbound, 160)]
    assert proto.receive_text(media(4, "inbound", inbound, 60)) == [AudioChunk((0,), inbound, 480)]
    assert proto.receive_text(frame("stop", 5, stop={"accountSid": "AC0123", "callSid": CALL_SID})) == [
        CallClosed(CALL_SID, "stop")
    ]
    assert proto.connection_lost() == []


def test_track_roles_are_configurable() -> None:
    proto = TwilioProtocol(track_roles={"inbound": Speaker.AGENT, "outbound": Speaker.CUSTOMER})
    opened = started(proto)
    assert [leg.role for leg in opened.legs] == [Speaker.AGENT, Speaker.CUSTOMER]


def test_single_track_stream_declares_one_leg_and_ignores_undeclared_track() -> None:
    proto = TwilioProtocol()
    opened = started(proto, tracks=["inbound"])
    assert opened.legs == (LegSpec(0, Speaker.CUSTOMER, "inbound"),)
    (notice,) = proto.receive_text(media(2, "outbound", b"\x00" * 8, 0))
    assert notice == Notice("undeclared-track", "outbound")


def test_missing_timestamp_continues_the_leg_where_it_ended() -> None:
    proto = TwilioProtocol()
    started(proto)
    proto.receive_text(media(2, "inbound", b"\x01" * 160, 0))
    (chunk,) = proto.receive_text(media(3, "inbound", b"\x01" * 80, None))
    assert isinstance(chunk, AudioChunk) and chunk.position == 160


@pytest.mark.parametrize("event", ["dtmf", "mark", "clear", "something-new"])
def test_unknown_and_uninteresting_events_are_noticed_without_content(event: str) -> None:
    proto = TwilioProtocol()
    started(proto)
    outputs = proto.receive_text(frame(event, 2, dtmf={"track": "inbound_track", "digit": "4"}))
    assert outputs == [Notice("ignored-event", event)]
    assert "4" not in repr(outputs)


def test_sequence_gap_is_noticed_not_fatal() -> None:
    proto = TwilioProtocol()
    started(proto)
    outputs = proto.receive_text(media(7, "inbound", b"\x00" * 4, 0))
    assert outputs[0] == Notice("sequence-gap", "expected 2, got 7")
    assert isinstance(outputs[1], AudioChunk)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", 1007),
        ("[1, 2]", 1007),
        ('{"event": 5}', 1007),
        (media(1, "inbound", b"\x00", 0), 1002),  # media before start
        (frame("stop", 1, stop={}), 1002),  # stop before start
        (frame("start", 1, start={"callSid": "../../etc/passwd"}), 1007),
        (frame("start", 1, start={"callSid": CALL_SID, "mediaFormat": {"encoding": "audio/opus"}}), 1003),
        (frame("start", 1, start={"callSid": CALL_SID, "tracks": "inbound"}), 1007),
        (frame("start", 1, start={"callSid": CALL_SID, "customParameters": {"k": "v" * 600}}), 1008),
        (json.dumps({"event": "media", "sequenceNumber": "x1"}), 1007),
    ],
)
def test_bad_first_messages_close_with_the_right_code(text: str, code: int) -> None:
    proto = TwilioProtocol()
    (close,) = proto.receive_text(text)
    assert isinstance(close, Close) and close.code == code
    assert proto.closed
    assert proto.receive_text(start()) == []


def test_error_mid_call_ends_the_call_then_closes() -> None:
    proto = TwilioProtocol()
    started(proto)
    bad = frame("media", 2, media={"track": "inbound", "timestamp": "0", "payload": "***"})
    outputs = proto.receive_text(bad)
    assert outputs[0] == CallClosed(CALL_SID, "error")
    assert isinstance(outputs[1], Close) and outputs[1].code == 1007


@pytest.mark.parametrize(
    "follow_up",
    [start(2), json.dumps({"event": "connected"})],
)
def test_out_of_order_control_events_are_protocol_errors(follow_up: str) -> None:
    proto = TwilioProtocol()
    started(proto)
    outputs = proto.receive_text(follow_up)
    assert isinstance(outputs[-1], Close) and outputs[-1].code == 1002


def test_media_after_stop_is_a_protocol_error() -> None:
    proto = TwilioProtocol()
    started(proto)
    proto.receive_text(frame("stop", 2, stop={}))
    (close,) = proto.receive_text(media(3, "inbound", b"\x00", 40))
    assert isinstance(close, Close) and close.code == 1002


def test_binary_and_oversized_messages_are_refused() -> None:
    (close,) = TwilioProtocol().receive_bytes(b"\x00" * 10)
    assert close == Close(1003, "twilio: binary messages are not part of Media Streams")
    (close,) = TwilioProtocol().receive_bytes(b"\x00" * (2 * 1024 * 1024))
    assert isinstance(close, Close) and close.code == 1009
    (close,) = TwilioProtocol(limits=Limits(max_text_bytes=1000)).receive_text(" " * 1001)
    assert isinstance(close, Close) and close.code == 1009


def test_connection_lost_mid_call_ends_the_call() -> None:
    proto = TwilioProtocol()
    started(proto)
    assert proto.connection_lost() == [CallClosed(CALL_SID, "connection-lost")]
    assert proto.receive_text(media(2, "inbound", b"\x00", 0)) == []


def test_audio_chunk_repr_hides_the_payload() -> None:
    chunk = AudioChunk((0,), b"\x12\x34" * 10, 0)
    assert "x12" not in repr(chunk) and "bytes=20" in repr(chunk)
