"""One live call: its ASR stream, rules engine and sinks, owned by one TaskGroup; audio in, alerts and a score out."""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from monitor.call.redaction import CallRedaction, RedactedLine, redact_digit_reading
from rules.engine import CallMonitor
from rules.eventlog import dumps_event
from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance
from rules.findings import Finding
from rules.packs import RuleSet
from rules.recording_control import ControlEvent, RecordingControl
from rules.redact import Redacted
from streams.codecs import AudioFormat
from streams.pipeline import CallStream
from streams.protocols.base import AudioChunk, CallOpened

log = logging.getLogger("callwarden.session")

TranscriptListener = Callable[[Utterance, RedactedLine], Awaitable[None]]
"""Called with each redacted transcript line, in audio-time order (a transcription connector sends it back)."""

MAX_GAP_SECONDS = 5.0  # a position jump larger than this is filled only this far (lost audio, not a pause)
MAX_EVENT_LOG_LINES = 500_000
"""A call's stored event log keeps at most this many events (~20 h of audio); a longer call keeps none (a cut log
would re-score to outcomes it never had), and says so in the log."""


@dataclass(slots=True)
class ArrivalClock:
    """When (wall time) each leg's audio up to a given audio time arrived: for speech-to-alert latency."""

    horizon: int = 4096
    _marks: dict[int, deque[tuple[float, float]]] = field(default_factory=dict)

    def mark(self, leg: int, audio_end: float, wall: float) -> None:
        self._marks.setdefault(leg, deque(maxlen=self.horizon)).append((audio_end, wall))

    def arrival(self, leg: int, audio_time: float) -> float | None:
        """Wall time the audio at `audio_time` on `leg` had fully arrived (None if unknown)."""
        marks = self._marks.get(leg)
        if not marks:
            return None
        ends = [m[0] for m in marks]
        i = bisect.bisect_left(ends, audio_time - 1e-6)
        return marks[i][1] if i < len(marks) else marks[-1][1]


class CallHost(Protocol):
    """What a call needs from the process around it (the Service is one): ASR, rules, and where its redacted,
    audio-time-ordered output goes (store, /live, outbox), plus the bookkeeping of calls and alerts."""

    @property
    def ruleset(self) -> RuleSet: ...

    def ruleset_for(self, metadata: Mapping[str, str]) -> RuleSet:
        """The rules of a call with this metadata (its queue may add opt-in packs)."""
        ...

    @property
    def language(self) -> str: ...

    @property
    def recording_resume_seconds(self) -> float | None:
        """Seconds of quiet before a paused recording resumes; None: no pause/resume control events."""
        ...

    def open_stream(
        self, call_id: str, fmt: AudioFormat, roles: Mapping[int, Speaker], language: str, metadata: Mapping[str, str]
    ) -> CallStream: ...

    def audio_received(self, protocol: str, seconds: float) -> None: ...

    async def call_started(self, session: CallSession) -> None: ...

    async def transcript(self, call_id: str, utterance: Utterance, text: Redacted) -> None: ...

    async def findings(self, findings: list[Finding], arrivals: list[Arrival], wall: float) -> None: ...

    async def control(self, call_id: str, events: list[ControlEvent], wall: float) -> None: ...

    def clock(self, call_id: str, audio_time: float, lag: float) -> None: ...

    def alert_refined(self, finding_id: str, arrived_wall: float | None) -> None: ...

    async def call_ended(self, session: CallSession, ended: CallEnded, report: dict[str, Any], shed: float) -> None: ...

    def call_finished(self, session: CallSession) -> None: ...


@dataclass(frozen=True, slots=True)
class Arrival:
    """When a finding's audio arrived (wall time; None if unknown) and whether a later final refines it."""

    wall: float | None
    refining: bool = False


class CallSession:
    """A call in progress. `async with` it in the connection's handler; feed `audio()`, then `end()`."""

    def __init__(self, host: CallHost, opened: CallOpened, wall: Callable[[], float] = time.time) -> None:
        self.host = host
        self.opened = opened
        self.call_id = opened.call_id
        self.wall = wall
        self.started_wall = wall()
        self.language = _rules_language(opened.metadata.get("language", ""), host.language)
        self.monitor = CallMonitor(
            host.ruleset_for(opened.metadata), call_id=self.call_id, default_language=self.language
        )
        self.redaction = CallRedaction(self.language)
        resume = host.recording_resume_seconds
        self.control = RecordingControl(self.language, resume) if resume is not None else None
        self.arrivals = ArrivalClock()
        self._unrefined: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
        """Per leg: alerts raised on a wordless partial (finding id, the partial's words), awaiting word times."""
        # The stream has one channel per leg; a chunk carries all legs interleaved or (Twilio) a single leg.
        self.fmt = AudioFormat(opened.audio.encoding, opened.audio.rate, len(opened.legs))
        self._fed: dict[int, int] = {leg.index: 0 for leg in opened.legs}
        self._skipped: dict[int, int] = {leg.index: 0 for leg in opened.legs}
        """Per leg: frames of gaps beyond MAX_GAP_SECONDS left out; chunk positions are shifted back by this."""
        self._group = asyncio.TaskGroup()
        self._stream: CallStream | None = None
        self._end_reason = "stream-closed"
        self._ended = False
        self.report: dict[str, Any] | None = None
        self.stored = asyncio.Event()
        """Set once the call's end was handled (scored and stored), or its session failed."""
        self.transcribed = asyncio.Event()
        """Set once every transcript line of the call was handled (before scoring), or its session failed."""
        self.listener: TranscriptListener | None = None
        self.event_log: list[str] | None = []
        """The redacted event log (rules.eventlog JSON lines) of the events the engine accepted, in the order it
        was fed them: what `callwarden backtest` re-scores. None once it outgrew MAX_EVENT_LOG_LINES."""

    async def __aenter__(self) -> CallSession:
        roles = {leg.index: leg.role for leg in self.opened.legs}
        metadata = {k: v for k, v in self.opened.metadata.items() if k in {"agent", "queue", "direction"}}
        self._stream = self.host.open_stream(self.call_id, self.fmt, roles, self.language, metadata)
        await self._group.__aenter__()
        await self._stream.__aenter__()
        await self.host.call_started(self)
        self._group.create_task(self._consume(self._stream), name=f"rules {self.call_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        stream = self._stream
        assert stream is not None
        try:
            if exc is None:
                await stream.end(self._end_reason)
            await stream.__aexit__(exc_type, exc, tb)
        finally:
            try:
                await self._group.__aexit__(exc_type, exc, tb)
            finally:
                self.transcribed.set()
                self.stored.set()
                self.host.call_finished(self)
        return None

    @property
    def lag(self) -> float:
        return self._stream.lag if self._stream is not None else 0.0

    async def audio(self, chunk: AudioChunk) -> None:
        """Feed one chunk: gaps in its legs' positions are filled with silence, overlaps dropped.

        Audio arriving after `end()` (e.g. a graceful shutdown ended the call mid-stream) is dropped.
        """
        assert self._stream is not None
        if self._ended:
            return
        fmt = self.opened.audio
        frame = fmt.sample_width * len(chunk.legs)
        payload = chunk.payload
        lead = chunk.legs[0]
        fed = self._fed[lead]
        position = chunk.position - self._skipped[lead]
        if position > fed:
            gap = min(position - fed, int(MAX_GAP_SECONDS * fmt.rate))
            if position - fed > gap:  # the rest of the gap is skipped: later chunks follow on from here
                for leg in chunk.legs:
                    self._skipped[leg] += position - fed - gap
            payload = AudioFormat(fmt.encoding, fmt.rate, len(chunk.legs)).silence(gap) + payload
        elif position < fed:
            payload = payload[(fed - position) * frame :]
        if not payload:
            return
        frames = len(payload) // frame
        wall = self.wall()
        for leg in chunk.legs:
            self._fed[leg] = fed + frames
            self.arrivals.mark(leg, self._fed[leg] / fmt.rate, wall)
        self.host.audio_received(self.opened.protocol, frames / fmt.rate)
        try:
            if len(chunk.legs) == self.fmt.channels:
                await self._stream.feed(payload)
            else:
                await self._stream.feed_leg(chunk.legs[0], payload)
        except RuntimeError:
            if not self._ended:
                raise
            # end() closed the legs while this chunk waited for room in a full leg buffer: drop it.

    async def cut(self) -> None:
        """The utterances open on every leg end at the audio fed so far (the peer paused, or changed language)."""
        if self._stream is not None and not self._ended:
            await self._stream.cut()

    async def end(self, reason: str) -> None:
        """No more audio: the stream flushes, the engine sees CallEnded and the call is scored."""
        self._end_reason = reason
        self._ended = True
        if self._stream is not None:
            await self._stream.end(reason)

    async def _consume(self, stream: CallStream) -> None:
        async for event in stream.events():
            await self._handle(event)

    async def _handle(self, event: Event) -> None:
        accepted_before = self.monitor.stats["accepted"]
        findings = self.monitor.feed(event)
        accepted = self.monitor.stats["accepted"] != accepted_before
        controls = self.control.feed(event) if self.control is not None else []
        if controls:  # before the line is stored: the recorder pauses before the digits reach any record
            await self.host.control(self.call_id, controls, self.wall())
        if isinstance(event, Utterance):
            logged = await self._transcript(event)
            if accepted:
                self._log(logged)
            if event.words:
                self._refine_arrivals(event)
        elif accepted:
            self._log(redact_digit_reading(event) if isinstance(event, DigitReading) else event)
        if isinstance(event, AudioTick):
            self.host.clock(self.call_id, event.at, self.lag)
        if findings:
            wordless = tuple(event.text.split()) if isinstance(event, Utterance) and not event.words else None
            await self._findings(findings, wordless)
        if isinstance(event, CallEnded):
            self.transcribed.set()
            await self._finish(event)
        elif isinstance(event, CallStarted):
            return

    async def _transcript(self, utterance: Utterance) -> Utterance:
        """Hand on the redacted line; returns the utterance as the event log keeps it (redacted the same way)."""
        line, logged = self.redaction.line_and_event(utterance)
        await self.host.transcript(self.call_id, utterance, line.text)
        if self.listener is not None:
            await self.listener(utterance, line)
        return logged

    def _log(self, event: Event) -> None:
        """Append an accepted, already redacted event to the call's event log (events the engine ignores change
        nothing in a replay, so repeated partials and stale ticks are left out)."""
        if self.event_log is None:
            return
        if len(self.event_log) >= MAX_EVENT_LOG_LINES:
            log.warning("call %s: event log dropped at %d events (too long)", self.call_id, MAX_EVENT_LOG_LINES)
            self.event_log = None
            return
        self.event_log.append(dumps_event(event))

    async def _findings(self, findings: list[Finding], wordless: tuple[str, ...] | None = None) -> None:
        """Hand findings on with when their audio arrived. `wordless`: the words of the partial without word times
        they were raised on (its end is the recognizer's position): that arrival is refined from later word times."""
        findings = [self.redaction.finding(finding) for finding in findings]
        arrivals = []
        for finding in findings:
            arrived = self.arrivals.arrival(finding.channel, finding.end) if finding.channel >= 0 else None
            refining = False
            if wordless and arrived is not None:
                self._unrefined.setdefault(finding.channel, []).append((finding.finding_id, wordless))
                refining = True
            arrivals.append(Arrival(arrived, refining))
        await self.host.findings(findings, arrivals, self.wall())

    def _refine_arrivals(self, utterance: Utterance) -> None:
        """A waiting alert's partial ended with its n-th word: where these word times put that word, if they agree
        on it, is when its speech ended (else the first estimate stands)."""
        for finding_id, partial in self._unrefined.pop(utterance.channel, []):
            n = len(partial)
            same = len(utterance.words) >= n and utterance.words[n - 1].text == partial[-1]
            arrived = self.arrivals.arrival(utterance.channel, utterance.words[n - 1].end) if same else None
            self.host.alert_refined(finding_id, arrived)

    async def _finish(self, ended: CallEnded) -> None:
        for waiting in self._unrefined.values():
            for finding_id, _words in waiting:
                self.host.alert_refined(finding_id, None)
        self._unrefined.clear()
        shed = self._stream.shed_seconds if self._stream is not None else 0.0
        if shed > 0:
            log.warning("call %s: %.1f s of audio shed because recognition fell behind (overload)", self.call_id, shed)
        self.report = self.redaction.report(self.monitor.report())
        await self.host.call_ended(self, ended, self.report, shed)
        self.stored.set()


def _rules_language(declared: str, configured: str) -> str:
    """The rules language ("en", "it") from a declared tag like "it-IT", else from the model's language."""
    tag = (declared or configured or "en").lower()
    return tag.split("-")[0].split("_")[0] or "en"
