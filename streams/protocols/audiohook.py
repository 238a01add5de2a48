"""Genesys Cloud AudioHook v2 server side (sans-I/O): open/opened, ping/pong, pause, close/closed, PCMU audio, and
the transcription connector's `event` messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from rules.events import Speaker
from streams.codecs import AudioFormat, Encoding
from streams.protocols.audiohook_messages import (
    NULL_UUID,
    ClientMessage,
    MediaOffer,
    Transcript,
    disconnect_parameters,
    duration_seconds,
    language_tag,
    no_media_error,
    parse_client_message,
    select_media,
    server_message,
    transcript_entity,
    uuid_parameter,
)
from streams.protocols.base import (
    INVALID_PAYLOAD,
    POLICY_VIOLATION,
    PROTOCOL_ERROR,
    AudioChunk,
    CallOpened,
    Close,
    CutUtterances,
    DrainCall,
    LegSpec,
    Limits,
    Notice,
    Output,
    ProtocolCore,
    ProtocolViolation,
    SendText,
    close_reason,
    parse_json_object,
    scalar_text,
)

DEFAULT_CHANNEL_ROLES: Mapping[str, Speaker] = {"external": Speaker.CUSTOMER, "internal": Speaker.AGENT}
# States: preparing → active ⇄ paused → closed; "disconnecting" after we sent `disconnect` (awaiting `close`);
# "closing" while a transcription connector delivers its last transcripts before it answers `close` with `closed`.
CAN_DISCONNECT = frozenset({"preparing", "active", "paused"})
CAN_SEND_EVENTS = frozenset({"active", "paused", "disconnecting", "closing"})
TranscriptMode = Literal["final", "partial"]
TRANSCRIPT_MODES: tuple[TranscriptMode, ...] = ("final", "partial")
METADATA_KEYS = ("agent", "queue", "direction")


class AudioHookProtocol(ProtocolCore):
    """One AudioHook session, server side.

    `session_id` (the Audiohook-Session-Id header) must equal every message's `id` when given;
    `organization_id` (the Audiohook-Organization-Id header) must equal the open's organizationId when given,
    else we send `disconnect {reason: unauthorized}`. `channel_roles` maps AudioHook channel names to speakers.
    The connection probe (conversationId all zeros) is answered correctly but yields Notice("probe") instead
    of CallOpened/AudioChunk/CallClosed, so it never counts as a call.

    Transcription connector (`transcripts` "final", or "partial" for partial results too): the socket layer hands
    each redacted utterance to `transcript_event`, which builds the `event` message. A client's `paused` or
    `update` ends the utterances open at that point (CutUtterances), and `close` is answered only after the call
    was drained (DrainCall), so every transcript precedes `closed`. `supported_languages` are the AudioHook
    language codes announced in `opened` when the client asks (`supportedLanguages: true`).
    """

    protocol = "audiohook"

    def __init__(
        self,
        session_id: str | None = None,
        organization_id: str | None = None,
        channel_roles: Mapping[str, Speaker] | None = None,
        limits: Limits | None = None,
        transcripts: TranscriptMode | None = None,
        supported_languages: tuple[str, ...] = (),
    ) -> None:
        super().__init__(limits)
        if transcripts is not None and transcripts not in TRANSCRIPT_MODES:
            raise ValueError(f"transcripts must be one of {TRANSCRIPT_MODES} or None, not {transcripts!r}")
        self.transcripts = transcripts
        self.supported_languages = supported_languages
        self.language: str | None = None
        self.session_id = session_id.lower() if session_id else None
        self.organization_id = organization_id.lower() if organization_id else None
        self.channel_roles = dict(DEFAULT_CHANNEL_ROLES if channel_roles is None else channel_roles)
        self.state = "preparing"
        self.seq = 0
        self.clientseq = 0
        self.probe = False
        self.media: MediaOffer | None = None
        self._samples = 0

    # ---- public builders -------------------------------------------------------------------------------------

    def disconnect(self, reason: str = "completed", info: str = "") -> list[Output]:
        """Ask the client to end the session (`completed` | `unauthorized` | `error`); it answers with `close`."""
        if self.closed or self.state not in CAN_DISCONNECT:
            return []
        parameters = disconnect_parameters(reason, info)
        self.state = "disconnecting"
        return [self._send("disconnect", parameters)]

    @property
    def connector(self) -> bool:
        """True when this session sends transcripts back (transcription connector)."""
        return self.transcripts is not None

    def transcript_event(self, transcript: Transcript) -> SendText | None:
        """The `event` message carrying one utterance's transcript, or None when none may be sent (monitor only, a
        probe, before `opened`, after `closed`, or a partial when only finals are wanted)."""
        if self.transcripts is None or self.probe or self.closed or self.state not in CAN_SEND_EVENTS:
            return None
        if not transcript.final and self.transcripts != "partial":
            return None
        return self._send("event", {"entities": [transcript_entity(transcript)]})

    @property
    def position_seconds(self) -> float:
        """Audio received so far (plus discarded/paused spans the client reported), in seconds."""
        return self._samples / 8000

    # ---- input -----------------------------------------------------------------------------------------------

    def _on_text(self, text: str) -> list[Output]:
        message = parse_client_message(parse_json_object(text, "audiohook message"))
        self._check_envelope(message)
        if self.state in ("closed", "closing"):
            return [Notice("ignored-message", f"{message.type} after close")]
        handler = getattr(self, f"_on_{message.type}")
        outputs: list[Output] = handler(message)
        return outputs

    def _check_envelope(self, message: ClientMessage) -> None:
        if message.seq != self.clientseq + 1:
            raise ProtocolViolation(PROTOCOL_ERROR, f"audiohook: seq {message.seq}, expected {self.clientseq + 1}")
        self.clientseq = message.seq
        if message.serverseq > self.seq:
            raise ProtocolViolation(PROTOCOL_ERROR, f"audiohook: serverseq {message.serverseq} > our seq {self.seq}")
        if self.session_id is None:
            self.session_id = message.id.lower()
        elif message.id.lower() != self.session_id:
            raise ProtocolViolation(POLICY_VIOLATION, "audiohook: message id differs from the session id")

    def _on_bytes(self, data: bytes) -> list[Output]:
        if self.state == "preparing":
            raise ProtocolViolation(PROTOCOL_ERROR, "audiohook: audio before opened")
        if self.probe or not data or self.state in ("closed", "disconnecting") or self.media is None:
            return []
        channels = len(self.media.channels)
        if len(data) % channels:
            raise ProtocolViolation(INVALID_PAYLOAD, f"audiohook: audio frame not a multiple of {channels} bytes")
        position = self._samples
        self._samples += len(data) // channels
        return [AudioChunk(tuple(range(channels)), data, position)]

    # ---- client messages -------------------------------------------------------------------------------------

    def _on_open(self, message: ClientMessage) -> list[Output]:
        if self.state == "disconnecting":
            return [Notice("ignored-message", "open after disconnect")]
        if self.state != "preparing":
            raise ProtocolViolation(PROTOCOL_ERROR, "audiohook: duplicate open")
        params = message.parameters
        organization = uuid_parameter(params, "organizationId")
        conversation = uuid_parameter(params, "conversationId")
        if self.organization_id is not None and organization != self.organization_id:
            return [
                Notice("unauthorized", "organizationId differs from header"),
                *self.disconnect("unauthorized", "organizationId does not match the Audiohook-Organization-Id header"),
            ]
        media = select_media(params.get("media"), self.channel_roles)
        if media is None:
            raise no_media_error()
        self.media = media
        self.state = "active"
        self.language = self._language(params.get("language"))
        opened_params: dict[str, Any] = {"media": [media.raw], "startPaused": False}
        if params.get("supportedLanguages") is True:
            opened_params["supportedLanguages"] = list(self.supported_languages)
        opened = self._send("opened", opened_params)
        if conversation == NULL_UUID:
            self.probe = True
            return [opened, Notice("probe", "connection probe (null conversationId)")]
        legs = tuple(LegSpec(i, self.channel_roles[name], name) for i, name in enumerate(media.channels))
        audio = AudioFormat(Encoding.MULAW, media.rate, len(legs))
        call = CallOpened(conversation, self.protocol, audio, legs, self._metadata(message, organization))
        return [opened, self._open_call(call)]

    def _metadata(self, message: ClientMessage, organization: str) -> dict[str, str]:
        params = message.parameters
        metadata = {"organization_id": organization, "session_id": message.id.lower()}
        language = params.get("language")
        if isinstance(language, str) and len(language) <= 32:
            metadata["language"] = language
        participant = params.get("participant")
        if isinstance(participant, dict):
            for key, field in (("ani", "ani"), ("ani_name", "aniName"), ("dnis", "dnis")):
                value = participant.get(field)
                if isinstance(value, str) and value and len(value) <= self.limits.max_metadata_value_chars:
                    metadata[key] = value
        custom = params.get("customConfig")
        if isinstance(custom, dict):
            for key in METADATA_KEYS:
                value = scalar_text(custom.get(key))
                if value is not None and len(value) <= self.limits.max_metadata_value_chars:
                    metadata[key] = value
        return metadata

    def _on_ping(self, message: ClientMessage) -> list[Output]:
        return [self._send("pong", {})]

    def _on_close(self, message: ClientMessage) -> list[Output]:
        reason = message.parameters.get("reason")
        reason_text = reason if isinstance(reason, str) and reason.isalpha() and len(reason) <= 16 else "close"
        if self.connector and self._call_open:
            self.state = "closing"
            return [DrainCall(reason_text, lambda: self._acknowledge_close(reason_text))]
        self.state = "closed"
        return [self._send("closed", {}), *self._end_call(reason_text)]

    def _acknowledge_close(self, reason: str) -> list[Output]:
        """`closed`, once a connector's call was drained (nothing after it: the state is closed)."""
        if self.state != "closing" or self.closed:
            return []
        self.state = "closed"
        return [self._send("closed", {}), *self._end_call(reason)]

    def _on_paused(self, message: ClientMessage) -> list[Output]:
        cut: list[Output] = []
        if self.state == "active":
            self.state = "paused"
            cut = [CutUtterances("paused")] if self.connector and self._call_open else []
        return [*cut, Notice("paused", f"at {message.position:.3f} s")]

    def _on_resumed(self, message: ClientMessage) -> list[Output]:
        if self.state == "paused":
            self.state = "active"
        self._skip_to(message.parameters, message.position)
        return [Notice("resumed", f"at {message.position:.3f} s")]

    def _on_discarded(self, message: ClientMessage) -> list[Output]:
        self._skip_to(message.parameters, message.position)
        return [Notice("discarded", f"at {message.position:.3f} s")]

    def _on_update(self, message: ClientMessage) -> list[Output]:
        language = message.parameters.get("language")
        detail = language if isinstance(language, str) and len(language) <= 32 else ""
        if (tag := self._language(language)) is not None:
            self.language = tag
        cut: list[Output] = [CutUtterances("update")] if self.connector and self._call_open else []
        return [*cut, Notice("update", f"language {detail}" if detail else "")]

    def _on_error(self, message: ClientMessage) -> list[Output]:
        code = message.parameters.get("code")
        return [Notice("client-error", f"code {code}" if isinstance(code, int) else "")]

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _skip_to(self, parameters: dict[str, Any], position: float) -> None:
        """`discarded`/`resumed` say audio from `start` for `discarded` was never sent: move the clock past it, but
        never past the message's own `position` (the client's stream position, which counts discarded audio): a
        client announcing a discard its position does not show yet has not skipped that audio."""
        start = duration_seconds(parameters.get("start"), "start")
        skipped = duration_seconds(parameters.get("discarded"), "discarded")
        self._samples = max(self._samples, round(min(start + skipped, position) * 8000))

    @staticmethod
    def _language(raw: object) -> str | None:
        return language_tag(raw) if isinstance(raw, str) and len(raw) <= 32 else None

    def _send(self, msg_type: str, parameters: dict[str, Any]) -> SendText:
        self.seq += 1
        session_id = self.session_id or NULL_UUID
        return SendText(server_message(session_id, msg_type, self.seq, self.clientseq, parameters))

    def _fail(self, error: ProtocolViolation) -> list[Output]:
        """Tell the client why (disconnect reason error) when the protocol still allows it, then close."""
        notice = self.disconnect("error", error.reason) if self.session_id is not None else []
        self.state = "closed"
        return [*notice, *self._end_call("error"), self._mark_closed(Close(error.code, close_reason(error.reason)))]

    def _mark_closed(self, close: Close) -> Close:
        self._closed = True
        return close
