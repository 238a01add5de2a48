"""mod_audio_fork / jambonz core: metadata frame, L16 layouts, graceful zero-length end, tolerance of odd input."""

from __future__ import annotations

import json

import pytest

from rules.events import Speaker
from streams.protocols import AudioChunk, AudioFormat, CallClosed, CallOpened, Close, LegSpec, Notice
from streams.protocols.audiofork import SUBPROTOCOLS, AudioForkProtocol

CALL_SID = "b6e4c5a2-1f0e-4d3c-9b8a-7f6e5d4c3b2a"
JAMBONZ = {
    "callSid": CALL_SID,
    "from": "+15551230000",
    "to": "+15559870000",
    "direction": "inbound",
    "sampleRate": 16000,
    "mixType": "stereo",
    "accountSid": "acc-1",
}


def test_subprotocols_are_exposed_for_negotiation() -> None:
    assert SUBPROTOCOLS == ("audio.drachtio.org", "audio.jambonz.org")


def test_jambonz_stereo_call_from_metadata_to_zero_length_end() -> None:
    proto = AudioForkProtocol(subprotocol="audio.jambonz.org")
    (opened,) = proto.receive_text(json.dumps(JAMBONZ))
    assert isinstance(opened, CallOpened)
    assert opened.call_id == CALL_SID
    assert opened.audio == AudioFormat("pcm_s16le", 16000, 2)
    assert opened.legs == (LegSpec(0, Speaker.CUSTOMER, "channel-0"), LegSpec(1, Speaker.AGENT, "channel-1"))
    assert opened.metadata == {
        "mix": "stereo",
        "subprotocol": "audio.jambonz.org",
        "call_sid": CALL_SID,
        "from": "+15551230000",
        "to": "+15559870000",
        "direction": "inbound",
        "account_sid": "acc-1",
    }
    frame = b"\x01\x00\x02\x00" * 320  # 320 stereo frames = 20 ms at 16 kHz
    assert proto.receive_bytes(frame) == [AudioChunk((0, 1), frame, 0)]
    assert proto.receive_bytes(frame) == [AudioChunk((0, 1), frame, 320)]
    assert proto.receive_text('{"event":"dtmf","dtmf":"4"}') == [Notice("text-frame", "27 chars ignored")]
    assert proto.receive_bytes(b"") == [CallClosed(CALL_SID, "end"), Close(1000, "end of stream")]
    assert proto.closed and proto.receive_bytes(frame) == []


def test_stereo_channel_order_is_configurable() -> None:
    proto = AudioForkProtocol(stereo_roles=(Speaker.AGENT, Speaker.CUSTOMER))
    (opened,) = proto.receive_text(json.dumps(JAMBONZ))
    assert isinstance(opened, CallOpened)
    assert [leg.role for leg in opened.legs] == [Speaker.AGENT, Speaker.CUSTOMER]


def test_mixed_audio_is_one_leg_of_unknown_speaker() -> None:
    (opened,) = AudioForkProtocol().receive_text(json.dumps({**JAMBONZ, "mixType": "mixed", "sampleRate": 8000}))
    assert isinstance(opened, CallOpened)
    assert opened.legs == (LegSpec(0, Speaker.UNKNOWN, "mixed"),)
    assert opened.audio == AudioFormat("pcm_s16le", 8000, 1)


@pytest.mark.parametrize("metadata", ["caller=42;agent=7", "[1, 2, 3]", "", '"just a string"'])
def test_drachtio_metadata_that_is_not_a_json_object_is_tolerated(metadata: str) -> None:
    proto = AudioForkProtocol(subprotocol="audio.drachtio.org", default_call_id="fs-uuid-1", sample_rate=8000)
    (opened,) = proto.receive_text(metadata)
    assert isinstance(opened, CallOpened)
    assert opened.call_id == "fs-uuid-1"
    assert opened.legs == (LegSpec(0, Speaker.CUSTOMER, "mono"),)
    assert opened.metadata == {"mix": "mono", "subprotocol": "audio.drachtio.org"}


def test_audio_without_any_metadata_opens_the_call_with_the_configured_layout() -> None:
    proto = AudioForkProtocol(mix="stereo", sample_rate=8000, default_call_id="fs-uuid-2")
    opened, chunk = proto.receive_bytes(b"\x00" * 640)
    assert isinstance(opened, CallOpened) and opened.call_id == "fs-uuid-2"
    assert opened.audio == AudioFormat("pcm_s16le", 8000, 2)
    assert chunk == AudioChunk((0, 1), b"\x00" * 640, 0)


def test_generated_call_id_when_nothing_names_the_call() -> None:
    (opened,) = AudioForkProtocol().receive_text("{}")
    assert isinstance(opened, CallOpened) and len(opened.call_id) == 36


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({"callSid": "a/../b"}, 1007),
        ({"sampleRate": 0}, 1003),
        ({"sampleRate": "16000"}, 1003),
        ({"mixType": "surround"}, 1007),
    ],
)
def test_bad_metadata_values_close_with_a_code(metadata: dict[str, object], code: int) -> None:
    (close,) = AudioForkProtocol().receive_text(json.dumps(metadata))
    assert isinstance(close, Close) and close.code == code


def test_partial_samples_and_oversized_frames_are_refused() -> None:
    proto = AudioForkProtocol(mix="stereo")
    proto.receive_text(json.dumps(JAMBONZ))
    outputs = proto.receive_bytes(b"\x00" * 6)  # 1.5 stereo frames
    assert outputs[0] == CallClosed(CALL_SID, "error")
    assert isinstance(outputs[1], Close) and outputs[1].code == 1007
    (close,) = AudioForkProtocol().receive_bytes(b"\x00" * (2 * 1024 * 1024))
    assert isinstance(close, Close) and close.code == 1009


def test_constructor_rejects_impossible_defaults() -> None:
    with pytest.raises(ValueError, match="mix"):
        AudioForkProtocol(mix="quad")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        AudioForkProtocol(sample_rate=0)


def test_connection_lost_ends_the_open_call() -> None:
    proto = AudioForkProtocol()
    proto.receive_text(json.dumps(JAMBONZ))
    assert proto.connection_lost() == [CallClosed(CALL_SID, "connection-lost")]
