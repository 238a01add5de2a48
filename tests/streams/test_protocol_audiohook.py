"""AudioHook v2 core: the message sequences Genesys' conformance suite checks, the probe, and protocol errors."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from rules.events import Speaker
from streams.protocols import AudioChunk, AudioFormat, CallClosed, CallOpened, Close, LegSpec, Notice, SendText
from streams.protocols.audiohook import AudioHookProtocol
from streams.protocols.audiohook_messages import Transcript, TranscriptToken, language_tag
from streams.protocols.base import CutUtterances, DrainCall, Output

SESSION = "30b0e395-84d3-4570-ac13-9a62d8f514c0"
ORG = "d7934305-0972-4844-938e-9060eef73d05"
CONVERSATION = "e160e428-53e2-487c-977d-96989bf5c99d"
NULL = "00000000-0000-0000-0000-000000000000"


def offer(*channels: str, fmt: str = "PCMU", rate: int = 8000) -> dict[str, Any]:
    return {"type": "audio", "format": fmt, "channels": list(channels), "rate": rate}


DEFAULT_OFFERS = [offer("external", "internal"), offer("external"), offer("internal")]


class Client:
    """Builds client messages with correct seq bookkeeping, as the reference client does."""

    def __init__(self, proto: AudioHookProtocol, session: str = SESSION) -> None:
        self.proto = proto
        self.session = session
        self.seq = 0
        self.serverseq = 0

    def send(self, msg_type: str, parameters: dict[str, Any] | None = None, position: str = "PT0S") -> list[Output]:
        self.seq += 1
        message = {
            "version": "2",
            "id": self.session,
            "type": msg_type,
            "seq": self.seq,
            "serverseq": self.serverseq,
            "position": position,
            "parameters": parameters or {},
        }
        outputs = self.proto.receive_text(json.dumps(message))
        for out in outputs:
            if isinstance(out, SendText):
                self.serverseq = json.loads(out.text)["seq"]
        return outputs

    def open(self, media: list[dict[str, Any]] | None = None, conversation: str = CONVERSATION) -> list[Output]:
        return self.send(
            "open",
            {
                "organizationId": ORG,
                "conversationId": conversation,
                "participant": {"id": SESSION, "ani": "+1-555-555-1234", "aniName": "John Doe", "dnis": "+18005556789"},
                "media": DEFAULT_OFFERS if media is None else media,
                "language": "en-US",
                "customConfig": {"agent": "a-42", "queue": "sales"},
            },
        )


def sent(outputs: list[Output]) -> list[dict[str, Any]]:
    return [json.loads(out.text) for out in outputs if isinstance(out, SendText)]


def opened_client(**kwargs: Any) -> tuple[Client, CallOpened]:
    client = Client(AudioHookProtocol(session_id=SESSION, organization_id=ORG, **kwargs))
    outputs = client.open()
    call = next(out for out in outputs if isinstance(out, CallOpened))
    return client, call


def test_open_answers_opened_with_clientseq_1_choosing_the_stereo_offer_verbatim() -> None:
    client = Client(AudioHookProtocol(session_id=SESSION, organization_id=ORG))
    outputs = client.open()
    (opened,) = sent(outputs)
    assert opened == {
        "version": "2",
        "type": "opened",
        "seq": 1,
        "clientseq": 1,
        "id": SESSION,
        "parameters": {"media": [offer("external", "internal")], "startPaused": False},
    }
    call = outputs[1]
    assert isinstance(call, CallOpened)
    assert call.call_id == CONVERSATION
    assert call.audio == AudioFormat("mulaw", 8000, 2)
    assert call.legs == (LegSpec(0, Speaker.CUSTOMER, "external"), LegSpec(1, Speaker.AGENT, "internal"))
    assert call.metadata["session_id"] == SESSION and call.metadata["organization_id"] == ORG
    assert call.metadata["agent"] == "a-42" and call.metadata["queue"] == "sales"
    assert call.metadata["language"] == "en-US"


@pytest.mark.parametrize(
    ("offers", "legs"),
    [
        (
            [offer("internal", "external"), offer("internal"), offer("external")],
            (LegSpec(0, Speaker.AGENT, "internal"), LegSpec(1, Speaker.CUSTOMER, "external")),
        ),
        ([offer("external")], (LegSpec(0, Speaker.CUSTOMER, "external"),)),
        ([offer("internal")], (LegSpec(0, Speaker.AGENT, "internal"),)),
        ([offer("external", "internal", fmt="L16"), offer("internal")], (LegSpec(0, Speaker.AGENT, "internal"),)),
    ],
)
def test_exactly_one_offered_media_is_selected_and_mapped_to_legs(
    offers: list[dict[str, Any]], legs: tuple[LegSpec, ...]
) -> None:
    client = Client(AudioHookProtocol())
    outputs = client.open(offers)
    (opened,) = sent(outputs)
    assert len(opened["parameters"]["media"]) == 1
    assert opened["parameters"]["media"][0] in offers
    call = outputs[1]
    assert isinstance(call, CallOpened) and call.legs == legs


def test_ping_gets_pong_with_server_seq_2_and_clientseq_of_the_ping() -> None:
    client, _ = opened_client()
    (pong,) = sent(client.send("ping"))
    assert (pong["type"], pong["seq"], pong["clientseq"]) == ("pong", 2, 2)


def test_ping_then_close_gets_pong_then_closed_with_clientseq_of_close() -> None:
    client, call = opened_client()
    client.send("ping")
    outputs = client.send("close", {"reason": "end"})
    (closed,) = sent(outputs)
    assert (closed["type"], closed["seq"], closed["clientseq"], closed["id"]) == ("closed", 3, 3, SESSION)
    assert outputs[-1] == CallClosed(call.call_id, "end")


@pytest.mark.parametrize(
    ("msg_type", "parameters"),
    [
        ("update", {"language": "en-US"}),
        ("discarded", {"start": "PT6.3S", "discarded": "PT0.3S"}),
        ("error", {"code": 500, "message": "something broke"}),
    ],
)
def test_update_discarded_and_error_are_tolerated_and_close_still_works(
    msg_type: str, parameters: dict[str, Any]
) -> None:
    client, _ = opened_client()
    outputs = client.send(msg_type, parameters)
    assert sent(outputs) == []
    assert all(isinstance(out, Notice) for out in outputs)
    (closed,) = sent(client.send("close", {"reason": "end"}))
    assert (closed["seq"], closed["clientseq"]) == (2, 3)


def test_pings_are_answered_while_paused_and_duplicate_paused_is_tolerated() -> None:
    client, _ = opened_client()
    client.send("paused", position="PT1.2S")
    client.send("paused", position="PT1.2S")
    assert client.proto.state == "paused"
    (pong,) = sent(client.send("ping", position="PT1.2S"))
    assert (pong["seq"], pong["clientseq"]) == (2, 4)
    client.send("resumed", {"start": "PT1.2S", "discarded": "PT10S"}, position="PT11.2S")
    assert client.proto.state == "active"
    (chunk,) = client.proto.receive_bytes(b"\xff\x7f" * 1600)
    assert isinstance(chunk, AudioChunk) and chunk.position == round(11.2 * 8000)
    (closed,) = sent(client.send("close", {"reason": "end"}))
    assert (closed["seq"], closed["clientseq"]) == (3, 6)


def test_audio_flows_as_interleaved_chunks_with_rising_positions_and_discards_leave_gaps() -> None:
    client, _ = opened_client()
    frame = bytes(range(200)) * 16  # 3200 bytes = 200 ms stereo
    first, second = client.proto.receive_bytes(frame), client.proto.receive_bytes(frame)
    assert first == [AudioChunk((0, 1), frame, 0)]
    assert second == [AudioChunk((0, 1), frame, 1600)]
    client.send("discarded", {"start": "PT0.4S", "discarded": "PT1.5S"}, position="PT1.9S")
    (third,) = client.proto.receive_bytes(frame)
    assert isinstance(third, AudioChunk) and third.position == 15200
    assert client.proto.receive_bytes(b"") == []


def test_connection_probe_is_answered_but_never_becomes_a_call() -> None:
    client = Client(AudioHookProtocol(session_id=SESSION))
    outputs = client.open(conversation=NULL)
    assert [m["type"] for m in sent(outputs)] == ["opened"]
    assert Notice("probe", "connection probe (null conversationId)") in outputs
    assert not any(isinstance(out, CallOpened) for out in outputs)
    assert client.proto.receive_bytes(b"") == []
    assert client.proto.receive_bytes(b"\xff" * 3200) == []
    outputs = client.send("close", {"reason": "end"})
    (closed,) = sent(outputs)
    assert (closed["type"], closed["seq"], closed["clientseq"]) == ("closed", 2, 2)
    assert not any(isinstance(out, CallClosed) for out in outputs)
    assert client.proto.connection_lost() == []


def test_organization_mismatch_disconnects_unauthorized_and_close_is_still_answered() -> None:
    client = Client(AudioHookProtocol(session_id=SESSION, organization_id="11111111-2222-4333-8444-555555555555"))
    outputs = client.open()
    (disconnect,) = sent(outputs)
    assert disconnect["type"] == "disconnect" and disconnect["parameters"]["reason"] == "unauthorized"
    assert not any(isinstance(out, CallOpened) for out in outputs)
    (closed,) = sent(client.send("close", {"reason": "disconnect"}))
    assert (closed["type"], closed["seq"], closed["clientseq"]) == ("closed", 2, 2)


def test_server_initiated_disconnect_then_client_close() -> None:
    client, call = opened_client()
    (disconnect,) = sent(client.proto.disconnect("completed", "call ended"))
    assert disconnect["parameters"] == {"reason": "completed", "info": "call ended"}
    assert (disconnect["seq"], disconnect["clientseq"]) == (2, 1)
    assert client.proto.disconnect("completed") == []  # only once
    outputs = client.send("close", {"reason": "disconnect"})
    assert sent(outputs)[0]["type"] == "closed"
    assert outputs[-1] == CallClosed(call.call_id, "disconnect")
    with pytest.raises(ValueError, match="disconnect reason"):
        AudioHookProtocol().disconnect("bye")


def test_messages_after_closed_are_ignored() -> None:
    client, _ = opened_client()
    client.send("close", {"reason": "end"})
    assert sent(client.send("ping")) == []
    assert client.proto.receive_bytes(b"\x00\x00") == []


def expect_close(outputs: list[Output], code: int) -> dict[str, Any] | None:
    """The last output closes with `code`; returns the disconnect message sent before it, if any."""
    close = outputs[-1]
    assert isinstance(close, Close) and close.code == code, outputs
    assert len(close.reason.encode()) <= 123
    messages = sent(outputs)
    return messages[0] if messages else None


def test_audio_before_opened_is_a_protocol_error_with_a_disconnect() -> None:
    proto = AudioHookProtocol(session_id=SESSION)
    disconnect = expect_close(proto.receive_bytes(b"\xff" * 320), 1002)
    assert disconnect is not None and disconnect["parameters"]["reason"] == "error"
    assert "audio before opened" in disconnect["parameters"]["info"]


def test_seq_must_rise_by_exactly_one() -> None:
    client, call = opened_client()
    client.seq += 1  # skip one
    outputs = client.send("ping")
    expect_close(outputs, 1002)
    assert CallClosed(call.call_id, "error") in outputs


def test_serverseq_beyond_what_we_sent_is_refused() -> None:
    client, _ = opened_client()
    client.serverseq = 5
    expect_close(client.send("ping"), 1002)


def test_message_id_must_match_the_session_header() -> None:
    client = Client(AudioHookProtocol(session_id=SESSION), session=CONVERSATION)
    expect_close(client.open(), 1008)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{oops", 1007),
        ('"a string"', 1007),
        (json.dumps({"version": "1", "id": SESSION, "type": "open", "seq": 1}), 1007),
        (json.dumps({"version": "2", "id": SESSION, "type": "teleport", "seq": 1, "parameters": {}}), 1002),
        (json.dumps({"version": "2", "id": SESSION, "type": "ping", "seq": 1, "serverseq": 0, "position": "1s"}), 1007),
        ("x" * (64 * 1024 + 1), 1009),
    ],
)
def test_malformed_messages_close_with_the_right_code(text: str, code: int) -> None:
    expect_close(AudioHookProtocol(session_id=SESSION).receive_text(text), code)


def test_duplicate_open_and_unusable_media_are_refused() -> None:
    client, _ = opened_client()
    expect_close(client.open(), 1002)
    client = Client(AudioHookProtocol())
    disconnect = expect_close(client.open([offer("external", "internal", rate=16000)]), 1003)
    assert disconnect is not None and disconnect["type"] == "disconnect"


def test_stereo_frame_of_odd_length_is_invalid_and_huge_frames_too_big() -> None:
    client, _ = opened_client()
    expect_close(client.proto.receive_bytes(b"\xff" * 3), 1007)
    client, _ = opened_client()
    expect_close(client.proto.receive_bytes(b"\xff" * (2 * 1024 * 1024)), 1009)


def test_unauthorized_before_open_ignores_the_open_and_answers_close() -> None:
    client = Client(AudioHookProtocol(session_id=SESSION))
    (disconnect,) = sent(client.proto.disconnect("unauthorized", "bad signature"))
    assert (disconnect["seq"], disconnect["clientseq"], disconnect["id"]) == (1, 0, SESSION)
    outputs = client.open()
    assert outputs == [Notice("ignored-message", "open after disconnect")]
    (closed,) = sent(client.send("close", {"reason": "disconnect"}))
    assert (closed["type"], closed["seq"], closed["clientseq"]) == ("closed", 2, 2)


# ---- transcription connector ---------------------------------------------------------------------------------------

TRANSCRIPT = Transcript(
    utterance_id="5d5a1b1e-2f4c-5b7a-9c1d-1234567890ab", channel=1, final=True, offset=6.78, duration=2.58,
    confidence=0.93, text="i have a question", language="en-US",
    tokens=(
        TranscriptToken("i", 1.0, 6.78, 0.15), TranscriptToken("have", 0.9, 6.93, 0.18),
        TranscriptToken("a", 0.8, 7.11, 0.1), TranscriptToken("question", 1.0, 7.53, 0.51),
    ),
)  # fmt: skip


def test_monitor_only_sessions_send_no_transcripts_and_answer_close_at_once() -> None:
    client, call = opened_client()
    assert client.proto.transcript_event(TRANSCRIPT) is None
    assert not any(isinstance(out, CutUtterances) for out in client.send("paused") + client.send("update"))
    outputs = client.send("close", {"reason": "end"})
    assert [m["type"] for m in sent(outputs)] == ["closed"] and outputs[-1] == CallClosed(call.call_id, "end")


def test_connector_event_carries_one_transcript_entity_in_the_published_shape() -> None:
    client, _ = opened_client(transcripts="final")
    event = client.proto.transcript_event(TRANSCRIPT)
    assert event is not None
    message = json.loads(event.text)
    assert (message["type"], message["seq"], message["clientseq"], message["id"]) == ("event", 2, 1, SESSION)
    (entity,) = message["parameters"]["entities"]
    assert entity == {
        "type": "transcript",
        "data": {
            "id": TRANSCRIPT.utterance_id, "channelId": 1, "isFinal": True, "offset": "PT6.78S", "duration": "PT2.58S",
            "alternatives": [{
                "confidence": 0.93, "languages": ["en-US"],
                "interpretations": [{
                    "type": "display", "transcript": "i have a question",
                    "tokens": [
                        {"type": "word", "value": "i", "confidence": 1.0, "offset": "PT6.78S", "duration": "PT0.15S",
                         "language": "en-US"},
                        {"type": "word", "value": "have", "confidence": 0.9, "offset": "PT6.93S",
                         "duration": "PT0.18S", "language": "en-US"},
                        {"type": "word", "value": "a", "confidence": 0.8, "offset": "PT7.11S", "duration": "PT0.1S",
                         "language": "en-US"},
                        {"type": "word", "value": "question", "confidence": 1.0, "offset": "PT7.53S",
                         "duration": "PT0.51S", "language": "en-US"},
                    ],
                }],
            }],
        },
    }  # fmt: skip
    partial = dataclasses.replace(TRANSCRIPT, final=False, offset=None, duration=None, tokens=())
    assert client.proto.transcript_event(partial) is None  # finals only for this key
    (pong,) = sent(client.send("ping"))
    assert pong["seq"] == 3  # the event took seq 2


def test_partial_mode_sends_partials_without_times() -> None:
    client, _ = opened_client(transcripts="partial")
    partial = dataclasses.replace(TRANSCRIPT, final=False, offset=None, duration=None, tokens=())
    event = client.proto.transcript_event(partial)
    assert event is not None
    data = json.loads(event.text)["parameters"]["entities"][0]["data"]
    assert data["isFinal"] is False and "offset" not in data and "duration" not in data


def test_connector_pause_and_update_end_open_utterances_once() -> None:
    client, _ = opened_client(transcripts="final")
    assert CutUtterances("paused") in client.send("paused", position="PT8S")
    assert not any(isinstance(out, CutUtterances) for out in client.send("paused", position="PT8S"))  # duplicate
    client.send("resumed", {"start": "PT8S", "discarded": "PT0S"}, position="PT8S")
    outputs = client.send("update", {"language": "it-IT"})
    assert CutUtterances("update") in outputs and client.proto.language == "it-IT"


def test_connector_close_is_answered_after_the_drain_and_after_every_event() -> None:
    client, call = opened_client(transcripts="final")
    (drain,) = client.send("close", {"reason": "end"})
    assert isinstance(drain, DrainCall) and drain.reason == "end"
    assert client.send("ping") == [Notice("ignored-message", "ping after close")]
    event = client.proto.transcript_event(TRANSCRIPT)  # the last transcripts still go out while draining
    assert event is not None and json.loads(event.text)["seq"] == 2
    outputs = drain.then()
    (closed,) = sent(outputs)
    assert (closed["type"], closed["seq"], closed["clientseq"]) == ("closed", 3, 3)
    assert outputs[-1] == CallClosed(call.call_id, "end")
    assert client.proto.transcript_event(TRANSCRIPT) is None and drain.then() == []


def test_opened_lists_supported_languages_when_asked() -> None:
    proto = AudioHookProtocol(session_id=SESSION, organization_id=ORG, supported_languages=("en-US",))
    client = Client(proto)
    message = {
        "organizationId": ORG, "conversationId": CONVERSATION, "media": DEFAULT_OFFERS, "language": "en-US",
        "participant": {"id": SESSION, "ani": "", "aniName": "", "dnis": ""}, "supportedLanguages": True,
    }  # fmt: skip
    (opened,) = sent(client.send("open", message))
    assert opened["parameters"]["supportedLanguages"] == ["en-US"]
    (plain,) = sent(Client(AudioHookProtocol(session_id=SESSION, supported_languages=("en-US",))).open())
    assert "supportedLanguages" not in plain["parameters"]


def test_a_discard_never_moves_the_clock_past_the_clients_own_position() -> None:
    client, _ = opened_client()
    frame = b"\xff" * 3200
    for _ in range(40):  # 8 s
        client.proto.receive_bytes(frame)
    # the reference suite announces a discard its stream never made: position says 8.0 s, not 8.5 s
    client.send("discarded", {"start": "PT8.0S", "discarded": "PT0.5S"}, position="PT8.0S")
    (chunk,) = client.proto.receive_bytes(frame)
    assert isinstance(chunk, AudioChunk) and chunk.position == 8 * 8000
    client.send("discarded", {"start": "PT8.2S", "discarded": "PT1S"}, position="PT9.2S")
    (chunk,) = client.proto.receive_bytes(frame)
    assert isinstance(chunk, AudioChunk) and chunk.position == round(9.2 * 8000)


def test_language_tags_follow_the_audiohook_form() -> None:
    assert language_tag("en-us") == "en-US" and language_tag("it_IT") == "it-IT"
    assert language_tag("english") is None and language_tag("e1-us") is None
