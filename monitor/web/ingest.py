"""Ingest connections: pick the protocol core for a path, check the upgrade's credentials, pump frames to a call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request

from monitor.access.ingest_auth import AUTH_FAILURE_DELAY, IngestAuth, refusal_delay
from monitor.call.redaction import RedactedLine
from monitor.call.session import CallSession
from monitor.store.database import Store
from monitor.web.ingest_guard import RateLimiter
from monitor.web.transcription_connector import transcripts
from rules.events import Speaker, Utterance
from streams.codecs import CodecError
from streams.protocols import (
    AudioChunk,
    AudioForkProtocol,
    AudioHookProtocol,
    CallClosed,
    CallOpened,
    Close,
    CutUtterances,
    DrainCall,
    IngestProtocol,
    Limits,
    Notice,
    Output,
    RawProtocol,
    SendText,
    TwilioProtocol,
)
from streams.protocols.audiofork import MixType
from streams.protocols.audiohook import TRANSCRIPT_MODES, TranscriptMode
from streams.protocols.audiohook_messages import language_tag
from streams.protocols.base import UNSUPPORTED_DATA, close_reason

if TYPE_CHECKING:
    from monitor.service import Service

log = logging.getLogger("callwarden.ingest")

TRY_AGAIN_LATER = 1013
GOING_AWAY = 1001
INTERNAL_ERROR = 1011
CALL_START_TIMEOUT = 10.0  # a connection that has not started a call by then is closed (1008)
CLOSE_DRAIN_SECONDS = 5.0  # a closed peer that keeps sending is cut off after this long
PEER_CLOSE_TIMEOUT = 5.0  # after its call ended, the peer has this long to hang up before we close (1000)
DRAIN_TIMEOUT = 8.0  # a transcription connector answers `close` after at most this long (AudioHook clients wait 10 s)
__all__ = ["AUTH_FAILURE_DELAY", "INGEST_PATHS", "IngestConnection", "ingest_handler", "make_protocol"]
INGEST_PATHS = ("/ingest/twilio", "/ingest/audiohook", "/ingest/audiofork", "/ingest/raw")


def _role(name: str) -> Speaker:
    try:
        return Speaker(name)
    except ValueError:
        raise ValueError(f"unknown role {name!r}: use agent, customer or unknown") from None


def make_protocol(path: str, request: Request, subprotocol: str | None, service: Service) -> IngestProtocol:
    """The sans-I/O protocol core serving an ingest `path` for this request."""
    cfg = service.config
    limits = Limits(max_binary_bytes=cfg.max_frame_bytes)
    if path == "/ingest/twilio":
        roles = {"inbound": _role(cfg.twilio.inbound_role), "outbound": _role(cfg.twilio.outbound_role)}
        return TwilioProtocol(track_roles=roles, limits=limits)
    if path == "/ingest/audiohook":
        mode = cfg.audiohook.transcription_connector.get(request.headers.get("X-API-KEY", ""))
        language = language_tag(cfg.language)
        return AudioHookProtocol(
            session_id=request.headers.get("Audiohook-Session-Id"),
            organization_id=request.headers.get("Audiohook-Organization-Id"),
            limits=limits,
            transcripts=_transcript_mode(mode),
            supported_languages=(language,) if language else (),
        )
    if path == "/ingest/audiofork":
        fork = cfg.audiofork
        stereo = (Speaker.AGENT, Speaker.CUSTOMER) if fork.agent_channel == 0 else (Speaker.CUSTOMER, Speaker.AGENT)
        mix: MixType = "stereo" if fork.mix == "stereo" else "mixed" if fork.mix == "mixed" else "mono"
        return AudioForkProtocol(
            subprotocol=subprotocol, sample_rate=fork.sample_rate, mix=mix, stereo_roles=stereo, limits=limits
        )
    if path == "/ingest/raw":
        return RawProtocol(limits=limits)
    raise KeyError(path)


def _transcript_mode(mode: str | None) -> TranscriptMode | None:
    for known in TRANSCRIPT_MODES:
        if mode == known:
            return known
    return None


class IngestConnection:
    """Drives one ingest WebSocket: frames → protocol core → outputs acted on in order."""

    def __init__(
        self, ws: ServerConnection, protocol: IngestProtocol, service: Service, auth: IngestAuth | None = None
    ) -> None:
        self.ws = ws
        self.protocol = protocol
        self.service = service
        self.auth = auth
        self.limiter = RateLimiter(service.config.ingest)
        self.session: CallSession | None = None
        self._stack = AsyncExitStack()
        self._closing = False
        self._accepted = time.monotonic()
        self._last_message = self._accepted
        self._call_ended: float | None = None
        self._sending = asyncio.Lock()  # replies and transcript events leave in the order their seq was given

    async def run(self) -> None:
        async with self._stack:
            cancelled = False
            try:
                await self._pump()
            except ConnectionClosed as closed:
                self._log_transport_close(closed)
            except asyncio.CancelledError:
                # Cancelled (the shutdown grace is over): no graceful end, which would wait for the call's whole
                # backlog to be recognized; the cancellation reaches the session, which stops at once (incomplete).
                cancelled = True
                raise
            finally:
                if not cancelled:
                    await self._act_all(self.protocol.connection_lost(), sending=False)

    async def _pump(self) -> None:
        while not self._closing:
            try:
                async with asyncio.timeout(self._patience()):
                    message = await self.ws.recv()
                self._last_message = time.monotonic()
            except TimeoutError:
                await self._timed_out()
                return
            overdraft = self.limiter.admit(len(message))
            if overdraft is not None:
                await self._close(1008, overdraft)
                return
            if isinstance(message, str):
                outputs = self.protocol.receive_text(message)
            else:
                outputs = self.protocol.receive_bytes(message)
            await self._act_all(outputs)

    def _patience(self) -> float | None:
        """Seconds the peer may stay silent now: `call_idle_timeout` during a call; bounded before and after it."""
        if self.session is not None:
            return max(0.0, self._last_message + self.service.config.ingest.call_idle_timeout - time.monotonic())
        if self._call_ended is not None:
            return max(0.0, self._call_ended + PEER_CLOSE_TIMEOUT - time.monotonic())
        return max(0.0, self._accepted + CALL_START_TIMEOUT - time.monotonic())

    async def _timed_out(self) -> None:
        if self.session is not None:
            idle = self.service.config.ingest.call_idle_timeout
            await self._end("idle")
            await self._close(1008, f"no audio for {idle:g} s: call ended")
        elif self._call_ended is not None:
            wait = PEER_CLOSE_TIMEOUT
            log.info("%s peer did not hang up %.0f s after its call ended; closing", self.protocol.protocol, wait)
            await self._close(1000, "call ended")
        else:
            await self._close(1008, f"no call started within {CALL_START_TIMEOUT:.0f} s")

    def _log_transport_close(self, closed: ConnectionClosed) -> None:
        """The WebSocket layer itself closed with an error (frame over max_size, bad UTF-8, bad framing): say why."""
        sent = closed.sent
        we_closed_first = sent is not None and (closed.rcvd is None or closed.rcvd_then_sent is False)
        if sent is not None and we_closed_first and sent.code not in (1000, 1001):
            self.service.metrics.ingest_error(self.protocol.protocol, sent.code)
            log.warning("%s connection closed with %d: %s", self.protocol.protocol, sent.code, sent.reason)
        elif sent is None and closed.rcvd is None:
            log.info("%s connection lost without a close frame", self.protocol.protocol)

    async def _act_all(self, outputs: list[Output], sending: bool = True) -> None:
        for output in outputs:
            await self._act(output, sending)

    async def _act(self, output: Output, sending: bool) -> None:
        if isinstance(output, AudioChunk):
            if self.session is not None:
                await self.session.audio(output)
        elif isinstance(output, SendText):
            if sending:
                async with self._sending:
                    with contextlib.suppress(ConnectionClosed):
                        await self.ws.send(output.text)
        elif isinstance(output, CutUtterances):
            if self.session is not None:
                await self.session.cut()
        elif isinstance(output, DrainCall):
            await self._drain(output, sending)
        elif isinstance(output, CallOpened):
            await self._open(output)
        elif isinstance(output, CallClosed):
            await self._end(output.reason)
        elif isinstance(output, Close):
            failure = self.protocol.failure
            if failure is not None:  # a bug in the protocol core: it kept the exception, log it with its traceback
                log.error("%s protocol core failed; closing with %d", self.protocol.protocol, output.code,
                          exc_info=(type(failure), failure, failure.__traceback__))
            await self._close(output.code, output.reason)
        elif isinstance(output, Notice):
            log.debug("%s: %s %s", self.protocol.protocol, output.kind, output.detail)

    async def _open(self, opened: CallOpened) -> None:
        if self._closing:
            return
        arrived = time.monotonic()
        refusal = await self.auth.check_call(opened) if self.auth is not None else None
        if refusal is not None:
            peer = self.ws.remote_address
            log.warning("refused %s call %s from %s: %s", opened.protocol, opened.call_id, peer, refusal)
            await asyncio.sleep(refusal_delay(arrived, time.monotonic()))
            await self._close(1008, "Unauthorized")  # the same answer whatever failed
            return
        if self.service.is_admitted(opened.call_id):
            await self._close(1008, f"call {opened.call_id[:64]} is already being monitored")
            return
        call_id = await self.service.store.read(Store.free_call_id, opened.call_id)
        if call_id != opened.call_id:  # the id is stored already: a replay, or a reconnect / restarted stream
            if self.auth is not None and self.auth.single_use(opened):
                peer = self.ws.remote_address
                log.warning("refused %s call %s from %s: its call token was used already (replay)",
                            opened.protocol, opened.call_id, peer)  # fmt: skip
                await asyncio.sleep(refusal_delay(arrived, time.monotonic()))
                await self._close(1008, "Unauthorized")
                return
            log.info("call id %s reused: monitored as a new segment %s", opened.call_id, call_id)
            segment_of = {**opened.metadata, "segment_of": opened.call_id}
            opened = dataclasses.replace(opened, call_id=call_id, metadata=segment_of)
        refusal = self.service.admit(opened.call_id)  # checks and reserves the slot with no await in between
        if refusal == "already being monitored":
            await self._close(1008, f"call {opened.call_id[:64]} is already being monitored")
            return
        if refusal is not None:
            log.warning("refusing call %s (%d active): %s", opened.call_id, len(self.service.sessions), refusal)
            await self._close(TRY_AGAIN_LATER, refusal)
            return
        try:
            self.session = await self._stack.enter_async_context(CallSession(self.service, opened))
        except CodecError as error:  # a format the recognizer refuses (defence in depth behind the protocol edge)
            self.service.release(opened.call_id)
            await self._close(UNSUPPORTED_DATA, close_reason(str(error)))
            return
        except BaseException:
            self.service.release(opened.call_id)
            raise
        if isinstance(self.protocol, AudioHookProtocol) and self.protocol.connector:
            self.session.listener = self._send_transcript

    async def _send_transcript(self, utterance: Utterance, line: RedactedLine) -> None:
        """Transcription connector: the call's redacted utterance back to the AudioHook client as `event`s."""
        protocol = self.protocol
        assert isinstance(protocol, AudioHookProtocol)
        language = protocol.language or (protocol.supported_languages or ("en-US",))[0]
        for transcript in transcripts(protocol.session_id or "", utterance, line, language):
            async with self._sending:  # the seq is taken and the message sent under one lock: wire order = seq order
                event = protocol.transcript_event(transcript)
                if event is None:
                    return
                with contextlib.suppress(ConnectionClosed):
                    await self.ws.send(event.text)

    async def _drain(self, drain: DrainCall, sending: bool) -> None:
        """End the call and wait until its last transcripts were sent (bounded), then act on what follows."""
        session = self.session
        if session is not None:
            await session.end(drain.reason)
            try:
                async with asyncio.timeout(DRAIN_TIMEOUT):
                    await session.transcribed.wait()
            except TimeoutError:
                log.warning("call %s: transcripts not drained after %.0f s; answering close", session.call_id,
                            DRAIN_TIMEOUT)
        await self._act_all(drain.then(), sending)

    async def _end(self, reason: str) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.end(reason)
            await self._stack.aclose()  # waits until the call is flushed, scored and stored
            self._call_ended = time.monotonic()

    async def _close(self, code: int, reason: str) -> None:
        if code != 1000:
            self.service.metrics.ingest_error(self.protocol.protocol, code)
            log.warning("%s connection closed with %d: %s", self.protocol.protocol, code, reason)
        await self._end("error" if code != 1000 else "end")
        self._closing = True
        await self._close_draining(code, reason)

    async def _close_draining(self, code: int, reason: str) -> None:
        """Close, discarding what the peer still sends: a full receive queue would hide its close frame (10 s wait)."""
        closing = asyncio.create_task(self.ws.close(code, reason))
        try:
            async with asyncio.timeout(CLOSE_DRAIN_SECONDS):
                while True:
                    await self.ws.recv()
        except ConnectionClosed:
            pass  # the closing handshake finished (or the peer closed first): `closing` completes on its own
        except TimeoutError:
            self.ws.transport.abort()
        with contextlib.suppress(ConnectionClosed):
            await closing


def ingest_handler(
    service: Service, auth: IngestAuth | None = None
) -> Callable[[ServerConnection, IngestProtocol], asyncio.Future[None]]:
    """A coroutine function serving one ingest connection with its protocol core (calls checked by `auth`)."""

    async def handle(ws: ServerConnection, protocol: IngestProtocol) -> None:
        try:
            await IngestConnection(ws, protocol, service, auth).run()
        except Exception:
            log.exception("%s connection failed; closing it (other calls are unaffected)", protocol.protocol)
            with contextlib.suppress(Exception):
                await ws.close(INTERNAL_ERROR, "internal error")

    return handle  # type: ignore[return-value]
