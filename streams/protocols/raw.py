"""Callwarden's own raw ingest protocol (sans-I/O): JSON start frame, binary interleaved audio, JSON end frame."""

from __future__ import annotations

from typing import Any

from rules.events import Speaker
from streams.codecs import AudioFormat, Encoding
from streams.protocols.base import (
    INVALID_PAYLOAD,
    NORMAL_CLOSURE,
    PROTOCOL_ERROR,
    UNSUPPORTED_DATA,
    AudioChunk,
    CallOpened,
    LegSpec,
    Limits,
    Output,
    ProtocolCore,
    ProtocolViolation,
    check_call_id,
    check_sample_rate,
    parse_json_object,
    string_metadata,
)

SUBPROTOCOL = "callwarden.raw.v1"
ENCODINGS: tuple[Encoding, ...] = (Encoding.S16LE, Encoding.MULAW, Encoding.ALAW, Encoding.U8)
ROLES = {speaker.value: speaker for speaker in Speaker}
MAX_CHANNELS = 8
MAX_LABEL_CHARS = 32


class RawProtocol(ProtocolCore):
    """One raw-protocol connection (docs/raw-protocol.md): start → binary frames… → end."""

    protocol = "raw"

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__(limits)
        self._format: AudioFormat | None = None
        self._samples = 0

    def _on_text(self, text: str) -> list[Output]:
        message = parse_json_object(text, "raw control frame")
        kind = message.get("type")
        if kind == "start":
            return self._on_start(message)
        if kind == "end":
            if self._format is None:
                raise ProtocolViolation(PROTOCOL_ERROR, "raw: 'end' before 'start'")
            return self._close(NORMAL_CLOSURE, "end of call", call_reason="end")
        name = kind[:24] if isinstance(kind, str) else type(kind).__name__
        raise ProtocolViolation(PROTOCOL_ERROR, f"raw: unknown frame type {name!r} (want start or end)")

    def _on_start(self, message: dict[str, Any]) -> list[Output]:
        if self._format is not None:
            raise ProtocolViolation(PROTOCOL_ERROR, "raw: duplicate 'start'")
        call_id = check_call_id(message.get("call_id"), "raw start.call_id")
        encoding = _encoding(message.get("encoding"))
        rate = _sample_rate(message.get("sample_rate"))
        legs = _legs(message.get("channels"))
        metadata = string_metadata(message.get("metadata"), self.limits, "raw start.metadata")
        self._format = AudioFormat(encoding, rate, len(legs))
        return [self._open_call(CallOpened(call_id, self.protocol, self._format, legs, metadata))]

    def _on_bytes(self, data: bytes) -> list[Output]:
        if self._format is None:
            raise ProtocolViolation(PROTOCOL_ERROR, "raw: audio before 'start'")
        if len(data) % self._format.frame_bytes:
            raise ProtocolViolation(
                INVALID_PAYLOAD,
                f"raw: frame of {len(data)} bytes is not a multiple of {self._format.frame_bytes} "
                f"({self._format.sample_width} bytes x {self._format.channels} channels)",
            )
        if not data:
            return []
        position = self._samples
        self._samples += len(data) // self._format.frame_bytes
        return [AudioChunk(tuple(range(self._format.channels)), data, position)]


def _encoding(raw: object) -> Encoding:
    for encoding in ENCODINGS:
        if raw == encoding:
            return encoding
    raise ProtocolViolation(UNSUPPORTED_DATA, f"raw: encoding must be one of {', '.join(ENCODINGS)}")


def _sample_rate(raw: object) -> int:
    return check_sample_rate(raw, "raw start")


def _legs(raw: object) -> tuple[LegSpec, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CHANNELS:
        raise ProtocolViolation(INVALID_PAYLOAD, f"raw: channels must be a list of 1..{MAX_CHANNELS} objects")
    legs: list[LegSpec] = []
    for index, entry in enumerate(raw):
        role = entry.get("role") if isinstance(entry, dict) else None
        if not isinstance(role, str) or role not in ROLES:
            raise ProtocolViolation(INVALID_PAYLOAD, f"raw: channels[{index}].role must be agent, customer or unknown")
        label = entry.get("label", role)
        if not isinstance(label, str) or not 0 < len(label) <= MAX_LABEL_CHARS:
            raise ProtocolViolation(INVALID_PAYLOAD, f"raw: channels[{index}].label must be 1..{MAX_LABEL_CHARS} chars")
        legs.append(LegSpec(index, ROLES[role], label))
    return tuple(legs)
