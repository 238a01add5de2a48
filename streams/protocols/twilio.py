"""Twilio Media Streams (server side, sans-I/O): connected → start → media… → stop, one mu-law leg per message."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from rules.events import Speaker
from streams.codecs import AudioFormat, Encoding
from streams.protocols.base import (
    INVALID_PAYLOAD,
    PROTOCOL_ERROR,
    UNSUPPORTED_DATA,
    AudioChunk,
    CallOpened,
    LegSpec,
    Limits,
    Notice,
    Output,
    ProtocolCore,
    ProtocolViolation,
    check_call_id,
    check_sample_rate,
    parse_json_object,
    string_metadata,
)

DEFAULT_TRACK_ROLES: Mapping[str, Speaker] = {"inbound": Speaker.CUSTOMER, "outbound": Speaker.AGENT}
ENCODINGS: Mapping[str, Encoding] = {
    "audio/x-mulaw": Encoding.MULAW,
    "audio/pcmu": Encoding.MULAW,
    "pcmu": Encoding.MULAW,
    "audio/x-alaw": Encoding.ALAW,
    "audio/pcma": Encoding.ALAW,
    "pcma": Encoding.ALAW,
}
METADATA_ALIASES: Mapping[str, tuple[str, ...]] = {
    "agent": ("agent", "agent_id", "agentId"),
    "queue": ("queue", "queue_name", "queueName"),
    "direction": ("direction",),
}
MAX_TIMESTAMP_MS = 7 * 24 * 3600 * 1000


class TwilioProtocol(ProtocolCore):
    """One Twilio Media Streams connection.

    `track_roles` maps Twilio's track names to speakers (default inbound = customer, outbound = agent);
    the customParameter named `token_parameter` is lifted out of the metadata into CallOpened.auth_token.
    Each media message yields an AudioChunk of one leg whose position comes from its `timestamp` (ms).
    """

    protocol = "twilio"

    def __init__(
        self,
        track_roles: Mapping[str, Speaker] | None = None,
        token_parameter: str = "token",
        limits: Limits | None = None,
    ) -> None:
        super().__init__(limits)
        self.track_roles = dict(DEFAULT_TRACK_ROLES if track_roles is None else track_roles)
        self.token_parameter = token_parameter
        self.stream_sid: str | None = None
        self._connected = False
        self._stopped = False
        self._format = AudioFormat(Encoding.MULAW, 8000, 1)
        self._legs: dict[str, int] = {}
        self._next_position: dict[int, int] = {}
        self._last_sequence = 0

    def _on_text(self, text: str) -> list[Output]:
        message = parse_json_object(text, "twilio message")
        event = message.get("event")
        if not isinstance(event, str):
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio message without a string 'event'")
        notices = self._check_sequence(message.get("sequenceNumber"))
        if event == "connected":
            return notices + self._on_connected()
        if event == "start":
            return notices + self._on_start(message)
        if event == "media":
            return notices + self._on_media(message)
        if event == "stop":
            return notices + self._on_stop()
        return [*notices, Notice("ignored-event", event[:32])]  # dtmf, mark, …: never their content

    def _on_bytes(self, data: bytes) -> list[Output]:
        raise ProtocolViolation(UNSUPPORTED_DATA, "twilio: binary messages are not part of Media Streams")

    def _check_sequence(self, raw: object) -> list[Output]:
        if raw is None:
            return []
        number = _int_field(raw, "sequenceNumber")
        previous, self._last_sequence = self._last_sequence, number
        if number != previous + 1 and previous:
            return [Notice("sequence-gap", f"expected {previous + 1}, got {number}")]
        return []

    def _on_connected(self) -> list[Output]:
        if self._connected or self.call_id is not None:
            raise ProtocolViolation(PROTOCOL_ERROR, "twilio: 'connected' must come once, before 'start'")
        self._connected = True
        return []

    def _on_start(self, message: dict[str, Any]) -> list[Output]:
        if self.call_id is not None or self._stopped:
            raise ProtocolViolation(PROTOCOL_ERROR, "twilio: duplicate 'start'")
        start = message.get("start")
        if not isinstance(start, dict):
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio: 'start' message without a 'start' object")
        call_id = check_call_id(start.get("callSid"), "twilio start.callSid")
        self.stream_sid = _optional_str(start.get("streamSid", message.get("streamSid")), "streamSid")
        self._format = _media_format(start.get("mediaFormat"))
        legs = self._leg_specs(start.get("tracks"))
        params = string_metadata(start.get("customParameters"), self.limits, "twilio start.customParameters")
        token = params.pop(self.token_parameter, None)
        metadata = self._metadata(start, params)
        return [self._open_call(CallOpened(call_id, self.protocol, self._format, legs, metadata, token))]

    def _leg_specs(self, raw: object) -> tuple[LegSpec, ...]:
        tracks = ["inbound", "outbound"] if raw is None else raw
        if not isinstance(tracks, list) or not tracks or not all(isinstance(t, str) for t in tracks):
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio: start.tracks must be a non-empty list of names")
        if len(set(tracks)) != len(tracks) or len(tracks) > 8:
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio: start.tracks must name at most 8 distinct tracks")
        self._legs = {name: index for index, name in enumerate(tracks)}
        self._next_position = {index: 0 for index in self._legs.values()}
        return tuple(
            LegSpec(index, self.track_roles.get(name, Speaker.UNKNOWN), name[:32]) for name, index in self._legs.items()
        )

    def _metadata(self, start: dict[str, Any], params: dict[str, str]) -> dict[str, str]:
        metadata = dict(params)
        for canonical, aliases in METADATA_ALIASES.items():
            for alias in aliases:
                if alias in params:
                    metadata[canonical] = params[alias]
                    break
        for key, field in (("account_sid", "accountSid"), ("stream_sid", "streamSid")):
            value = start.get(field)
            if isinstance(value, str) and len(value) <= self.limits.max_metadata_value_chars:
                metadata[key] = value
        return metadata

    def _on_media(self, message: dict[str, Any]) -> list[Output]:
        if self.call_id is None or self._stopped:
            raise ProtocolViolation(PROTOCOL_ERROR, "twilio: 'media' outside 'start'…'stop'")
        media = message.get("media")
        if not isinstance(media, dict):
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio: 'media' message without a 'media' object")
        track = media.get("track", "inbound")
        leg = self._legs.get(track) if isinstance(track, str) else None
        if leg is None:
            return [Notice("undeclared-track", str(track)[:32])]
        payload = _decode_payload(media.get("payload"))
        if len(payload) % self._format.frame_bytes:
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio: media payload is not whole samples")
        position = self._position(leg, media.get("timestamp"))
        self._next_position[leg] = position + len(payload) // self._format.frame_bytes
        if not payload:
            return []
        return [AudioChunk((leg,), payload, position)]

    def _position(self, leg: int, raw: object) -> int:
        if raw is None:
            return self._next_position[leg]
        millis = _int_field(raw, "media.timestamp")
        if millis > MAX_TIMESTAMP_MS:
            raise ProtocolViolation(INVALID_PAYLOAD, "twilio: media.timestamp beyond 7 days")
        return millis * self._format.rate // 1000

    def _on_stop(self) -> list[Output]:
        if self.call_id is None or self._stopped:
            raise ProtocolViolation(PROTOCOL_ERROR, "twilio: 'stop' without a running stream")
        self._stopped = True
        return self._end_call("stop")


def _int_field(raw: object, name: str) -> int:
    """Twilio sends numbers as decimal strings; accept those (and plain ints), refuse anything else."""
    if isinstance(raw, bool):
        raise ProtocolViolation(INVALID_PAYLOAD, f"twilio: {name} must be a decimal number")
    if isinstance(raw, int) and raw >= 0:
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 15:
        return int(raw)
    raise ProtocolViolation(INVALID_PAYLOAD, f"twilio: {name} must be a decimal number")


def _optional_str(raw: object, name: str) -> str | None:
    if raw is None or (isinstance(raw, str) and len(raw) <= 128):
        return raw
    raise ProtocolViolation(INVALID_PAYLOAD, f"twilio: {name} must be a short string")


def _media_format(raw: object) -> AudioFormat:
    if raw is None:
        return AudioFormat(Encoding.MULAW, 8000, 1)
    if not isinstance(raw, dict):
        raise ProtocolViolation(INVALID_PAYLOAD, "twilio: start.mediaFormat must be an object")
    name = raw.get("encoding", "audio/x-mulaw")
    encoding = ENCODINGS.get(name.lower()) if isinstance(name, str) else None
    if encoding is None:
        raise ProtocolViolation(UNSUPPORTED_DATA, "twilio: unsupported mediaFormat.encoding (want audio/x-mulaw)")
    rate = raw.get("sampleRate", 8000)
    channels = raw.get("channels", 1)
    rate = check_sample_rate(rate, "twilio mediaFormat")
    if channels != 1:
        raise ProtocolViolation(UNSUPPORTED_DATA, "twilio: mediaFormat.channels must be 1")
    return AudioFormat(encoding, rate, 1)


def _decode_payload(raw: object) -> bytes:
    if not isinstance(raw, str):
        raise ProtocolViolation(INVALID_PAYLOAD, "twilio: media.payload must be a base64 string")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolViolation(INVALID_PAYLOAD, "twilio: media.payload is not valid base64") from None
