"""One live call: its ASR stream, rules engine and sinks, owned by one TaskGroup; audio in, alerts and a score out."""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rules.engine import CallMonitor
from rules.events import AudioTick, CallEnded, CallStarted, Event, Utterance
from rules.findings import Finding
from rules.redact import Redactor
from streams.codecs import AudioFormat, Encoding
from streams.pipeline import CallStream
from streams.protocols.base import AudioChunk, CallOpened

if TYPE_CHECKING:
    from monitor.service import Service

log = logging.getLogger("callwarden.session")

WIRE_ENCODINGS: dict[str, Encoding] = {
    "mulaw": Encoding.MULAW,
    "alaw": Encoding.ALAW,
    "pcm_s16le": Encoding.S16LE,
    "pcm_u8": Encoding.U8,
}
SILENCE_BYTE: dict[str, bytes] = {"mulaw": b"\xff", "alaw": b"\xd5", "pcm_s16le": b"\x00", "pcm_u8": b"\x80"}
MAX_GAP_SECONDS = 5.0  # a position jump larger than this is filled only this far (lost audio, not a pause)


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


class CallSession:
    """A call in progress. `async with` it in the connection's handler; feed `audio()`, then `end()`."""

    def __init__(self, service: Service, opened: CallOpened, wall: Callable[[], float] = time.time) -> None:
        self.service = service
        self.opened = opened
        self.call_id = opened.call_id
        self.wall = wall
        self.started_wall = wall()
        self.language = _rules_language(opened.metadata.get("language", ""), service.config.language)
        self.monitor = CallMonitor(service.ruleset, call_id=self.call_id, default_language=self.language)
        self.redactor = Redactor(lang=self.language)
        self.arrivals = ArrivalClock()
        self._unrefined: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
        """Per leg: alerts raised on a wordless partial (finding id, the partial's words), awaiting word times."""
        # The stream has one channel per leg; a chunk carries all legs interleaved or (Twilio) a single leg.
        self.fmt = AudioFormat(WIRE_ENCODINGS[opened.audio.encoding], opened.audio.sample_rate, len(opened.legs))
        self._fed: dict[int, int] = {leg.index: 0 for leg in opened.legs}
        self._group = asyncio.TaskGroup()
        self._stream: CallStream | None = None
        self._end_reason = "stream-closed"
        self._ended = False
        self.report: dict[str, Any] | None = None
        self.stored = asyncio.Event()
        """Set once the call's end was handled (scored and stored), or its session failed."""

    async def __aenter__(self) -> CallSession:
        roles = {leg.index: leg.role for leg in self.opened.legs}
        metadata = {k: v for k, v in self.opened.metadata.items() if k in {"agent", "queue", "direction"}}
        self._stream = self.service.asr.call(self.call_id, self.fmt, roles, self.language, metadata)
        await self._group.__aenter__()
        await self._stream.__aenter__()
        await self.service.call_started(self)
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
                self.stored.set()
                self.service.call_finished(self)
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
        width = fmt.sample_width
        frame = width * len(chunk.legs)
        payload = chunk.payload
        fed = self._fed[chunk.legs[0]]
        if chunk.position > fed:
            gap = min(chunk.position - fed, int(MAX_GAP_SECONDS * fmt.sample_rate))
            payload = SILENCE_BYTE[fmt.encoding] * (gap * frame) + payload
        elif chunk.position < fed:
            payload = payload[(fed - chunk.position) * frame :]
        if not payload:
            return
        frames = len(payload) // frame
        wall = self.wall()
        for leg in chunk.legs:
            self._fed[leg] = fed + frames
            self.arrivals.mark(leg, self._fed[leg] / fmt.sample_rate, wall)
        self.service.metrics.audio_received(self.opened.protocol, frames / fmt.sample_rate)
        try:
            if len(chunk.legs) == self.fmt.channels:
                await self._stream.feed(payload)
            else:
                await self._stream.feed_leg(chunk.legs[0], payload)
        except RuntimeError:
            if not self._ended:
                raise
            # end() closed the legs while this chunk waited for room in a full leg buffer: drop it.

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
        findings = self.monitor.feed(event)
        if isinstance(event, Utterance):
            await self._transcript(event)
            if event.words:
                self._refine_arrivals(event)
        elif isinstance(event, AudioTick):
            self.service.live.publish({"type": "clock", "call_id": self.call_id, "audio_time": event.at})
            self.service.metrics.asr_lag_seconds.observe(self.lag)
        if findings:
            wordless = tuple(event.text.split()) if isinstance(event, Utterance) and not event.words else None
            await self._findings(findings, wordless)
        if isinstance(event, CallEnded):
            await self._finish(event)
        elif isinstance(event, CallStarted):
            return

    async def _transcript(self, utterance: Utterance) -> None:
        text = self.redactor.redact_utterance(utterance)
        self.service.live.publish(
            {
                "type": "transcript",
                "call_id": self.call_id,
                "speaker": str(utterance.speaker),
                "channel": utterance.channel,
                "index": utterance.index,
                "text": text,
                "start": round(utterance.start, 3),
                "end": round(utterance.end, 3),
                "final": utterance.final,
            }
        )
        if utterance.final:
            await self.service.store.add_transcript(utterance, redacted_text=text)

    async def _findings(self, findings: list[Finding], wordless: tuple[str, ...] | None = None) -> None:
        """Store, count and show findings. `wordless`: the words of the partial without word times they were raised
        on (its end is the recognizer's position): the arrival of its last word is refined from later word times."""
        wall = self.wall()
        for finding in findings:
            arrived = self.arrivals.arrival(finding.channel, finding.end) if finding.channel >= 0 else None
            refining = False
            if wordless and arrived is not None:
                self._unrefined.setdefault(finding.channel, []).append((finding.finding_id, wordless))
                refining = True
            self.service.finding_raised(finding, arrived, refining)
        await self.service.store.add_findings(findings, wall_time=wall)
        for finding in findings:
            self.service.live.publish(
                {"type": "finding", "call_id": self.call_id, "finding": finding.to_json(), "wall_time": wall}
            )

    def _refine_arrivals(self, utterance: Utterance) -> None:
        """A waiting alert's partial ended with its n-th word: where these word times put that word, if they agree
        on it, is when its speech ended (else the first estimate stands)."""
        for finding_id, partial in self._unrefined.pop(utterance.channel, []):
            n = len(partial)
            same = len(utterance.words) >= n and utterance.words[n - 1].text == partial[-1]
            arrived = self.arrivals.arrival(utterance.channel, utterance.words[n - 1].end) if same else None
            self.service.latency.refined(finding_id, arrived)

    async def _finish(self, ended: CallEnded) -> None:
        for waiting in self._unrefined.values():
            for finding_id, _words in waiting:
                self.service.latency.refined(finding_id, None)
        self._unrefined.clear()
        shed = self._stream.shed_seconds if self._stream is not None else 0.0
        if shed > 0:
            self.service.metrics.asr_shed_seconds.inc(shed)
            log.warning("call %s: %.1f s of audio shed because recognition fell behind (overload)", self.call_id, shed)
        self.report = self.monitor.report()
        await self.service.call_ended(self, ended, self.report)
        self.stored.set()


def _rules_language(declared: str, configured: str) -> str:
    """The rules language ("en", "it") from a declared tag like "it-IT", else from the model's language."""
    tag = (declared or configured or "en").lower()
    return tag.split("-")[0].split("_")[0] or "en"
