"""AudioHook v2 message shapes: client-message validation, media selection, server-message building, transcripts."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.protocols.base import INVALID_PAYLOAD, PROTOCOL_ERROR, UNSUPPORTED_DATA, ProtocolViolation

VERSION = "2"
NULL_UUID = "00000000-0000-0000-0000-000000000000"
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
LANGUAGE_PATTERN = re.compile(r"[a-z]{2,3}-[A-Za-z]{2,3}")
DURATION_PATTERN = re.compile(r"PT(\d{0,9}(?:\.\d{1,9})?)S")
CLIENT_TYPES = frozenset({"open", "close", "discarded", "error", "ping", "update", "paused", "resumed"})
DISCONNECT_REASONS = frozenset({"completed", "unauthorized", "error"})
MAX_SEQ = 2**53 - 1
MAX_INFO_CHARS = 256


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """A well-formed AudioHook client message (envelope checked, parameters still raw)."""

    id: str
    type: str
    seq: int
    serverseq: int
    position: float
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MediaOffer:
    """The media entry we accepted, kept verbatim (the `opened` message must echo it unchanged)."""

    raw: dict[str, Any]
    channels: tuple[str, ...]
    rate: int


def parse_client_message(obj: dict[str, Any]) -> ClientMessage:
    """Check the envelope fields of a client message (1007 when malformed, 1002 for an unknown type)."""
    if obj.get("version") != VERSION:
        raise ProtocolViolation(INVALID_PAYLOAD, 'audiohook: "version" must be "2"')
    msg_id, msg_type = obj.get("id"), obj.get("type")
    if not isinstance(msg_id, str) or not UUID_PATTERN.fullmatch(msg_id):
        raise ProtocolViolation(INVALID_PAYLOAD, 'audiohook: "id" must be a UUID')
    if not isinstance(msg_type, str):
        raise ProtocolViolation(INVALID_PAYLOAD, 'audiohook: "type" must be a string')
    if msg_type not in CLIENT_TYPES:
        raise ProtocolViolation(PROTOCOL_ERROR, f"audiohook: {msg_type[:24]!r} is not a client message type")
    parameters = obj.get("parameters")
    if not isinstance(parameters, dict):
        raise ProtocolViolation(INVALID_PAYLOAD, f'audiohook: {msg_type}: "parameters" must be an object')
    return ClientMessage(
        id=msg_id,
        type=msg_type,
        seq=sequence_number(obj.get("seq"), "seq"),
        serverseq=sequence_number(obj.get("serverseq"), "serverseq"),
        position=duration_seconds(obj.get("position"), "position"),
        parameters=parameters,
    )


def sequence_number(raw: object, name: str) -> int:
    """A non-negative JSON integer (booleans refused)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_SEQ:
        raise ProtocolViolation(INVALID_PAYLOAD, f'audiohook: "{name}" must be a non-negative integer')
    return raw


def duration_seconds(raw: object, name: str) -> float:
    """An ISO-8601 duration of the form PT<seconds>S as seconds."""
    match = DURATION_PATTERN.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or match.group(1) in ("", "."):
        raise ProtocolViolation(INVALID_PAYLOAD, f'audiohook: "{name}" must be a duration like "PT1.5S"')
    return float(match.group(1))


def format_duration(seconds: float) -> str:
    """Seconds as an AudioHook duration ("PT1.25S")."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def select_media(offers: object, known_channels: Mapping[str, object]) -> MediaOffer | None:
    """The offer we take: PCMU 8000 Hz audio, stereo with both known channels first, else the first mono one."""
    if not isinstance(offers, list):
        raise ProtocolViolation(INVALID_PAYLOAD, 'audiohook: open "media" must be a list')
    usable = [offer for raw in offers if (offer := _usable_offer(raw, known_channels)) is not None]
    stereo = [offer for offer in usable if len(offer.channels) == 2]
    mono = [offer for offer in usable if len(offer.channels) == 1]
    chosen = stereo or mono
    return chosen[0] if chosen else None


def _usable_offer(raw: object, known_channels: Mapping[str, object]) -> MediaOffer | None:
    if not isinstance(raw, dict):
        raise ProtocolViolation(INVALID_PAYLOAD, 'audiohook: open "media" entries must be objects')
    channels = raw.get("channels")
    if not isinstance(channels, list) or not all(isinstance(name, str) for name in channels):
        raise ProtocolViolation(INVALID_PAYLOAD, 'audiohook: media "channels" must be a list of names')
    names = tuple(channels)
    if raw.get("type") != "audio" or raw.get("format") != "PCMU" or raw.get("rate") != 8000:
        return None
    if not 1 <= len(names) <= 2 or len(set(names)) != len(names):
        return None
    if not all(name in known_channels for name in names):
        return None
    return MediaOffer(raw=raw, channels=names, rate=8000)


def uuid_parameter(parameters: Mapping[str, Any], name: str) -> str:
    """A UUID-valued open parameter (1007 when missing or malformed)."""
    value = parameters.get(name)
    if not isinstance(value, str) or not UUID_PATTERN.fullmatch(value):
        raise ProtocolViolation(INVALID_PAYLOAD, f'audiohook: open "{name}" must be a UUID')
    return value.lower()


def server_message(session_id: str, msg_type: str, seq: int, clientseq: int, parameters: dict[str, Any]) -> str:
    """Serialize one server message."""
    message = {
        "version": VERSION,
        "type": msg_type,
        "seq": seq,
        "clientseq": clientseq,
        "id": session_id,
        "parameters": parameters,
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class TranscriptToken:
    """One word of a transcript as it leaves Callwarden (already redacted): its text, confidence and audio span."""

    value: str
    confidence: float
    offset: float
    duration: float


@dataclass(frozen=True, slots=True)
class Transcript:
    """One utterance for a transcription connector's `event`: redacted text and words on the stream's position.

    `utterance_id` is a UUID shared by the partials and the final of one utterance; `channel` is the index of the
    channel in the media the server accepted (0 = first, e.g. external); `language` an AudioHook language tag;
    `offset`/`duration` may be unknown (None) for a partial.
    """

    utterance_id: str
    channel: int
    final: bool
    offset: float | None
    duration: float | None
    confidence: float
    text: str
    tokens: tuple[TranscriptToken, ...]
    language: str


def transcript_entity(transcript: Transcript) -> dict[str, Any]:
    """The `transcript` entity of an `event` message (AudioHook EventEntityTranscript, one alternative, one
    `display` interpretation with word tokens)."""
    interpretation: dict[str, Any] = {"type": "display", "transcript": transcript.text}
    interpretation["tokens"] = [
        {
            "type": "word",
            "value": token.value,
            "confidence": _confidence(token.confidence),
            "offset": format_duration(token.offset),
            "duration": format_duration(token.duration),
            "language": transcript.language,
        }
        for token in transcript.tokens
    ]
    alternative = {
        "confidence": _confidence(transcript.confidence),
        "languages": [transcript.language],
        "interpretations": [interpretation],
    }
    data: dict[str, Any] = {"id": transcript.utterance_id, "channelId": transcript.channel, "isFinal": transcript.final}
    if transcript.offset is not None and transcript.duration is not None:
        data["offset"] = format_duration(transcript.offset)
        data["duration"] = format_duration(transcript.duration)
    data["alternatives"] = [alternative]
    return {"type": "transcript", "data": data}


def _confidence(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 3)


def language_tag(code: str) -> str | None:
    """An AudioHook language code ("en-US") from a model or config language ("en-us", "it_IT"); None if none."""
    parts = code.replace("_", "-").split("-")
    if len(parts) != 2 or not parts[0].isalpha() or not parts[1].isalpha():
        return None
    tag = f"{parts[0].lower()}-{parts[1].upper()}"
    return tag if LANGUAGE_PATTERN.fullmatch(tag) else None


def disconnect_parameters(reason: str, info: str) -> dict[str, Any]:
    """Parameters of a `disconnect` message; `info` is cut to 256 chars."""
    if reason not in DISCONNECT_REASONS:
        raise ValueError(f"disconnect reason must be one of {sorted(DISCONNECT_REASONS)}, not {reason!r}")
    parameters: dict[str, Any] = {"reason": reason}
    if info:
        parameters["info"] = info[:MAX_INFO_CHARS]
    return parameters


def no_media_error() -> ProtocolViolation:
    """What we say when no offer is PCMU 8 kHz with known channels."""
    return ProtocolViolation(UNSUPPORTED_DATA, "audiohook: no offered media is PCMU 8000 Hz external/internal")
