"""Shared vocabulary of the sans-I/O ingest protocols: output dataclasses, audio layout, limits, close codes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rules.events import Speaker
from streams.codecs import AudioFormat, CodecError, check_asr_rate

# WebSocket close codes (RFC 6455 §7.4.1) used by the protocol cores.
NORMAL_CLOSURE = 1000
PROTOCOL_ERROR = 1002
UNSUPPORTED_DATA = 1003
INVALID_PAYLOAD = 1007
POLICY_VIOLATION = 1008
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011

MAX_CLOSE_REASON_BYTES = 123
CALL_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied to every incoming message (bytes); larger messages close the socket with 1009."""

    max_text_bytes: int = 64 * 1024
    max_binary_bytes: int = 1024 * 1024
    max_metadata_entries: int = 64
    max_metadata_key_chars: int = 64
    max_metadata_value_chars: int = 512


@dataclass(frozen=True, slots=True)
class LegSpec:
    """One leg of the call: its index (AudioChunk.legs refers to it), who speaks on it, its wire label."""

    index: int
    role: Speaker
    label: str


@dataclass(frozen=True, slots=True)
class CallOpened:
    """A call started; its audio arrives as AudioChunks in `audio` format carrying the legs listed here.

    `auth_token` is a credential the peer sent in-band (Twilio customParameters); it is never part of
    `metadata`, which is safe to log and store.
    """

    call_id: str
    protocol: str
    audio: AudioFormat
    legs: tuple[LegSpec, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    auth_token: str | None = None


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Raw encoded audio of the legs in `legs` (interleaved in that order, `AudioFormat.channels` == len(legs)).

    `position` is the sample index (per channel, at the call's sample rate) of the chunk's first sample on the
    call's audio clock. Positions of one leg rise; when a chunk starts after the end of the previous chunk of
    the same leg, the gap is lost audio (fill with silence); when it starts before, drop the overlap.
    """

    legs: tuple[int, ...]
    payload: bytes
    position: int

    def __repr__(self) -> str:  # never print audio bytes
        return f"AudioChunk(legs={self.legs}, bytes={len(self.payload)}, position={self.position})"


@dataclass(frozen=True, slots=True)
class SendText:
    """A text message the server must send back to the peer (AudioHook replies)."""

    text: str


@dataclass(frozen=True, slots=True)
class CallClosed:
    """The call ended (`reason`: e.g. "stop", "end", "close", "error", "connection-lost")."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close the WebSocket with `code` and `reason` (reason ≤ 123 UTF-8 bytes, never audio or card data)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a log line or a metric, with no effect on the call (e.g. "probe", "dtmf", "paused").

    `detail` never carries message content (DTMF digits or free text could be card data).
    """

    kind: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CutUtterances:
    """The utterances open on every leg end at the audio received so far (the peer paused, or changed language)."""

    reason: str


@dataclass(frozen=True, slots=True)
class DrainCall:
    """End the call (`reason`) and wait until its last transcripts were handed to the peer; then act on `then()`.

    A transcription connector must deliver every transcript before it acknowledges the peer's close, so the reply
    is built only once the call is drained (its sequence number comes after those of the transcripts).
    """

    reason: str
    then: Callable[[], list[Output]]


Output = CallOpened | AudioChunk | SendText | CallClosed | Close | Notice | CutUtterances | DrainCall


class IngestProtocol(Protocol):
    """What every protocol core offers the socket layer: feed it frames, act on the outputs in order."""

    protocol: str

    @property
    def closed(self) -> bool:
        """True once a Close was emitted or the connection was lost; every later input yields []."""
        ...

    @property
    def failure(self) -> BaseException | None:
        """The exception (a bug) a core closed on with 1011, kept for the socket layer to log with its traceback."""
        ...

    def receive_text(self, text: str) -> list[Output]: ...

    def receive_bytes(self, data: bytes) -> list[Output]: ...

    def connection_lost(self) -> list[Output]: ...


class ProtocolViolation(Exception):
    """Raised inside a protocol core; turned into a Close output with `code` and a short `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def close_reason(text: str) -> str:
    """`text` cut to the WebSocket close-reason limit (123 UTF-8 bytes) without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= MAX_CLOSE_REASON_BYTES:
        return text
    return data[:MAX_CLOSE_REASON_BYTES].decode("utf-8", errors="ignore")


def check_text_size(text: str, limits: Limits) -> None:
    """Refuse a text message over the limit (1009)."""
    limit = limits.max_text_bytes
    if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit):
        raise ProtocolViolation(MESSAGE_TOO_BIG, f"text message over {limit} bytes")


def check_binary_size(data: bytes, limits: Limits) -> None:
    """Refuse a binary message over the limit (1009)."""
    if len(data) > limits.max_binary_bytes:
        raise ProtocolViolation(MESSAGE_TOO_BIG, f"binary message over {limits.max_binary_bytes} bytes")


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """Decode a JSON object or raise 1007 naming `what` was expected."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolViolation(INVALID_PAYLOAD, f"{what}: not valid JSON") from None
    if not isinstance(value, dict):
        raise ProtocolViolation(INVALID_PAYLOAD, f"{what}: JSON must be an object")
    return value


def check_call_id(value: object, where: str) -> str:
    """A call id usable in logs, metrics and file names (1–128 of [A-Za-z0-9._:@+-]) or 1007."""
    if not isinstance(value, str) or not CALL_ID_PATTERN.fullmatch(value):
        raise ProtocolViolation(INVALID_PAYLOAD, f"{where}: call id must be 1-128 chars of A-Z a-z 0-9 . _ : @ + -")
    return value


def check_sample_rate(raw: object, where: str) -> int:
    """A declared sample rate the recognizer supports (streams.codecs.ASR_SAMPLE_RATES), else 1003 saying which."""
    try:
        return check_asr_rate(raw, where)
    except CodecError as error:
        raise ProtocolViolation(UNSUPPORTED_DATA, str(error)) from None


def string_metadata(raw: object, limits: Limits, where: str) -> dict[str, str]:
    """Flatten a JSON object of scalars into str → str metadata, enforcing the limits (1007/1008)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ProtocolViolation(INVALID_PAYLOAD, f"{where} must be a JSON object")
    if len(raw) > limits.max_metadata_entries:
        raise ProtocolViolation(POLICY_VIOLATION, f"{where}: more than {limits.max_metadata_entries} entries")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not 0 < len(key) <= limits.max_metadata_key_chars:
            raise ProtocolViolation(INVALID_PAYLOAD, f"{where}: keys must be 1-{limits.max_metadata_key_chars} chars")
        text = scalar_text(value)
        if text is None:
            continue
        if len(text) > limits.max_metadata_value_chars:
            raise ProtocolViolation(
                POLICY_VIOLATION, f"{where}: value of {key[:32]!r} over {limits.max_metadata_value_chars} chars"
            )
        out[key] = text
    return out


def scalar_text(value: object) -> str | None:
    """A JSON scalar as text (booleans as true/false); None for null, lists and objects."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


class ProtocolCore:
    """State shared by the protocol cores: closed flag, current call, and the error → outputs conversion."""

    protocol = "base"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.call_id: str | None = None
        self._call_open = False
        self._closed = False
        self._failure: BaseException | None = None

    @property
    def closed(self) -> bool:
        """True once a Close was emitted or the connection was lost."""
        return self._closed

    @property
    def failure(self) -> BaseException | None:
        """The unexpected exception this core closed on with 1011 (None otherwise), traceback included."""
        return self._failure

    def _internal_error(self, error: Exception) -> list[Output]:
        self._failure = error  # a bug must cost one connection, never the server; the socket layer logs it
        return self._close(INTERNAL_ERROR, f"internal error ({type(error).__name__})")

    def _open_call(self, opened: CallOpened) -> CallOpened:
        self.call_id = opened.call_id
        self._call_open = True
        return opened

    def _end_call(self, reason: str) -> list[Output]:
        if not self._call_open or self.call_id is None:
            return []
        self._call_open = False
        return [CallClosed(self.call_id, reason)]

    def _close(self, code: int, reason: str, call_reason: str = "error") -> list[Output]:
        outputs = self._end_call(call_reason)
        self._closed = True
        return [*outputs, Close(code, close_reason(reason))]

    def _fail(self, error: ProtocolViolation) -> list[Output]:
        return self._close(error.code, error.reason)

    def receive_text(self, text: str) -> list[Output]:
        """Feed one text message; returns the outputs to act on, in order."""
        if self._closed:
            return []
        try:
            check_text_size(text, self.limits)
            return self._on_text(text)
        except ProtocolViolation as error:
            return self._fail(error)
        except Exception as error:
            return self._internal_error(error)

    def receive_bytes(self, data: bytes) -> list[Output]:
        """Feed one binary message; returns the outputs to act on, in order."""
        if self._closed:
            return []
        try:
            check_binary_size(data, self.limits)
            return self._on_bytes(bytes(data))
        except ProtocolViolation as error:
            return self._fail(error)
        except Exception as error:
            return self._internal_error(error)

    def _on_text(self, text: str) -> list[Output]:
        raise ProtocolViolation(UNSUPPORTED_DATA, f"{self.protocol}: text messages are not supported")

    def _on_bytes(self, data: bytes) -> list[Output]:
        raise ProtocolViolation(UNSUPPORTED_DATA, f"{self.protocol}: binary messages are not supported")

    def connection_lost(self) -> list[Output]:
        """The socket went away: end an open call ("connection-lost"); nothing more will be accepted."""
        if self._closed:
            return []
        self._closed = True
        return self._end_call("connection-lost")
