"""FreeSWITCH mod_audio_fork / jambonz `listen` (sans-I/O): optional metadata text frame, then binary L16 audio."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from rules.events import Speaker
from streams.codecs import AudioFormat, Encoding, check_asr_rate
from streams.protocols.base import (
    INVALID_PAYLOAD,
    NORMAL_CLOSURE,
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
    scalar_text,
)

SUBPROTOCOLS: tuple[str, ...] = ("audio.drachtio.org", "audio.jambonz.org")
MixType = Literal["mono", "mixed", "stereo"]
MIX_TYPES: tuple[MixType, ...] = ("mono", "mixed", "stereo")
CALL_ID_KEYS = ("callSid", "call_sid", "callId", "uuid", "call_id")
METADATA_FIELDS = {
    "callSid": "call_sid",
    "from": "from",
    "to": "to",
    "direction": "direction",
    "accountSid": "account_sid",
    "applicationSid": "application_sid",
    "parentCallSid": "parent_call_sid",
    "callId": "sip_call_id",
    "agent": "agent",
    "queue": "queue",
}


class AudioForkProtocol(ProtocolCore):
    """One mod_audio_fork / jambonz connection.

    The first text frame, if any, is metadata (jambonz JSON: callSid, from, to, direction, sampleRate, mixType;
    drachtio: whatever the dialplan passed, JSON or not). Binary frames are L16 (pcm_s16le); the call opens at
    the first binary frame or at the metadata frame, whichever comes first. `mix`/`sample_rate` are used when
    the metadata does not say. In stereo, `stereo_roles` gives the speaker of channel 0 and 1 (default caller =
    customer first, as when forked on the A-leg). A zero-length binary frame ends the call gracefully.
    """

    protocol = "audiofork"

    def __init__(
        self,
        subprotocol: str | None = None,
        sample_rate: int = 8000,
        mix: MixType = "mono",
        stereo_roles: tuple[Speaker, Speaker] = (Speaker.CUSTOMER, Speaker.AGENT),
        mono_role: Speaker = Speaker.CUSTOMER,
        default_call_id: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        super().__init__(limits)
        if mix not in MIX_TYPES:
            raise ValueError(f"mix must be one of {MIX_TYPES}, not {mix!r}")
        check_asr_rate(sample_rate, "audiofork: configured sample_rate")
        self.subprotocol = subprotocol
        self.sample_rate = sample_rate
        self.mix: MixType = mix
        self.stereo_roles = stereo_roles
        self.mono_role = mono_role
        self.default_call_id = default_call_id
        self._format: AudioFormat | None = None
        self._samples = 0
        self._ended = False

    def _on_text(self, text: str) -> list[Output]:
        if self._format is not None:
            return [Notice("text-frame", f"{len(text)} chars ignored")]  # DTMF etc.: never log the content
        return [self._open(_parse_metadata(text))]

    def _on_bytes(self, data: bytes) -> list[Output]:
        if self._ended:
            return []
        opened: list[Output] = [self._open({})] if self._format is None else []
        try:
            return [*opened, *self._audio(data)]
        except ProtocolViolation as error:
            return [*opened, *self._fail(error)]

    def _audio(self, data: bytes) -> list[Output]:
        assert self._format is not None
        if not data:
            self._ended = True
            return self._close(NORMAL_CLOSURE, "end of stream", call_reason="end")
        size = self._format.frame_bytes
        if len(data) % size:
            raise ProtocolViolation(INVALID_PAYLOAD, f"audiofork: {len(data)} bytes is not whole {size}-byte frames")
        position = self._samples
        self._samples += len(data) // size
        return [AudioChunk(tuple(range(self._format.channels)), data, position)]

    def _open(self, meta: dict[str, Any]) -> CallOpened:
        rate = _sample_rate(meta.get("sampleRate"), self.sample_rate)
        mix = _mix_type(meta.get("mixType"), self.mix)
        if mix == "stereo":
            legs = tuple(LegSpec(i, role, f"channel-{i}") for i, role in enumerate(self.stereo_roles))
        elif mix == "mixed":
            legs = (LegSpec(0, Speaker.UNKNOWN, "mixed"),)
        else:
            legs = (LegSpec(0, self.mono_role, "mono"),)
        self._format = AudioFormat(Encoding.S16LE, rate, len(legs))
        call_id = self._call_id(meta)
        metadata = self._metadata(meta, mix)
        return self._open_call(CallOpened(call_id, self.protocol, self._format, legs, metadata))

    def _call_id(self, meta: dict[str, Any]) -> str:
        for key in CALL_ID_KEYS:
            if isinstance(meta.get(key), str):
                return check_call_id(meta[key], f"audiofork metadata {key}")
        return self.default_call_id or str(uuid.uuid4())

    def _metadata(self, meta: dict[str, Any], mix: MixType) -> dict[str, str]:
        out: dict[str, str] = {"mix": mix}
        if self.subprotocol:
            out["subprotocol"] = self.subprotocol
        limit = self.limits.max_metadata_value_chars
        for field, key in METADATA_FIELDS.items():
            value = scalar_text(meta.get(field))
            if value is not None and len(value) <= limit:
                out[key] = value
        return out


def _parse_metadata(text: str) -> dict[str, Any]:
    """jambonz sends a JSON object; drachtio passes the dialplan's string through — tolerate both."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _sample_rate(raw: object, default: int) -> int:
    if raw is None:
        return default
    return check_sample_rate(raw, "audiofork metadata")


def _mix_type(raw: object, default: MixType) -> MixType:
    if raw is None:
        return default
    for mix in MIX_TYPES:
        if raw == mix:
            return mix
    raise ProtocolViolation(INVALID_PAYLOAD, "audiofork: metadata mixType must be mono, mixed or stereo")
