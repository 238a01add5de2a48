"""Streaming transcription of live calls: feed each call's audio as it arrives, read rules events as they are made.

Clock: every time in the events is seconds of audio received on a leg (never wall time). A call's clock is the
MINIMUM over its legs of audio already decoded, so an AudioTick(at) means every leg has been recognized up to
`at` and every final before it was already emitted (words still in an open utterance may only have been seen
as partials). Deadline rules therefore never fire before the audio that could satisfy them was recognized.
CallEnded.at is the MAXIMUM over legs of audio received (the call's full length).

Order: the legs decode independently, so their utterances are merged by audio time (streams/ordering.py): one is
released once the call's clock has passed its end. What comes out of `events()` is one audio-time-ordered stream
per call, so a prompt on one leg always precedes the answer on another that came after it.

Single channel: a mono call whose one leg is `unknown` (a recorder's mix, FreeSWITCH `mixed`, a single-track
Twilio stream) holds both parties. With `PipelineConfig.attribute_mono` (default on) that leg's utterances go
through `rules.attribution.SpeakerAttributor` before the ordering: they come out as agent and customer turns with
an `attribution_confidence`, and a payment phrase in an agent turn arms the leg's own digit pass.

Buffers: each leg queues at most `max_queued_seconds` of undecoded audio. When full, Overflow.BLOCK makes the
feeding coroutine await (backpressure; default; nothing lost) and Overflow.SHED drops the incoming chunk,
counting and logging it and keeping later times on the audio clock. `CallStream.lag` is the seconds of audio
received but not yet decoded (max over legs). Events are few (≈ 5 a second per leg) and go through an
unbounded queue; consume them concurrently with feeding.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from rules.attribution import SpeakerAttributor
from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance
from streams.codecs import AudioFormat, CodecError, Pcm, channel_bytes, decode
from streams.digitpass import DigitPassStats, has_payment_phrase
from streams.legbuffer import Cut, Item, LegBuffer, Overflow, Shed
from streams.ordering import AudioTimeOrder
from streams.recognizers import RecognizerPool
from streams.transcriber import AsrConfig, LegIdentity, LegTranscriber, Recognized
from streams.tuning import load_tuned_model


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Service-wide transcription settings."""

    asr: AsrConfig = field(default_factory=AsrConfig)
    workers: int = 0  # decoding threads shared by all calls; 0 → one per core
    max_queued_seconds: float = 10.0  # per leg, audio received but not decoded
    overflow: Overflow = Overflow.BLOCK
    max_batch_seconds: float = 1.0  # audio one worker decodes per thread hop
    tick_seconds: float = 1.0  # AudioTick period on the call's audio clock
    attribute_mono: bool = True  # split a single unknown leg into agent and customer turns (rules/attribution.py)

    def __post_init__(self) -> None:
        if self.workers < 0 or self.max_queued_seconds <= 0 or self.max_batch_seconds <= 0 or self.tick_seconds <= 0:
            raise ValueError(f"PipelineConfig needs workers >= 0 and positive durations, got {self!r}")


def default_roles(channels: int, agent_channel: int | None = 0) -> dict[int, Speaker]:
    """Mono → UNKNOWN (one mixed leg; we cannot tell who talks). Stereo → agent_channel AGENT, the other CUSTOMER.
    More channels → agent_channel AGENT, the rest UNKNOWN. agent_channel None → all UNKNOWN."""
    if channels == 1 or agent_channel is None:
        return dict.fromkeys(range(channels), Speaker.UNKNOWN)
    if not 0 <= agent_channel < channels:
        raise ValueError(f"agent channel {agent_channel} does not exist in audio with {channels} channels")
    other = Speaker.CUSTOMER if channels == 2 else Speaker.UNKNOWN
    return {c: Speaker.AGENT if c == agent_channel else other for c in range(channels)}


class Transcription:
    """The process-wide ASR service: one shared Vosk model and one bounded decoding thread pool for all calls."""

    def __init__(
        self,
        config: PipelineConfig | None = None,
        model: Any = None,
        model_rate: int = 16000,
        on_digit_pass: Callable[[DigitPassStats], None] | None = None,
        on_gated: Callable[[GatedAudio], None] | None = None,
    ) -> None:
        """`on_digit_pass` is called on the event loop with each finished leg's digit-pass stats (when it ran);
        `on_gated` with the audio the voice-activity gate skipped on a leg, after each batch and (final) at its end."""
        self.config = config or PipelineConfig()
        self.on_digit_pass = on_digit_pass
        self.on_gated = on_gated
        self.model = model
        self.model_rate = model_rate
        self.workers = self.config.workers or os.cpu_count() or 1
        self._executor: ThreadPoolExecutor | None = None
        self.pool: RecognizerPool | None = None  # fresh recognizers for legs that recycle theirs (recycle_seconds)
        self.recycled = 0  # recognizers swapped for fresh ones by the legs that ended so far

    async def __aenter__(self) -> Transcription:
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="vosk")
        asr = self.config.asr
        if self.model is None:
            loop = asyncio.get_running_loop()
            self.model, self.model_rate = await loop.run_in_executor(
                self._executor, load_tuned_model, asr.language, asr.model_path, asr.endpoints
            )
        if asr.recycle_seconds is not None:
            self.pool = RecognizerPool(self.model, partial_words=asr.partial_words)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await asyncio.to_thread(pool.close)
        if self._executor is not None:
            executor, self._executor = self._executor, None
            # in-flight decodes finish (≤ max_batch_seconds of audio each) without blocking the event loop
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise RuntimeError("Transcription is not started: use `async with Transcription(...) as asr:`")
        return self._executor

    def call(
        self,
        call_id: str,
        fmt: AudioFormat,
        roles: Mapping[int, Speaker] | None = None,
        language: str = "en",
        metadata: Mapping[str, str] | None = None,
    ) -> CallStream:
        """A new call whose legs are the channels of `fmt`; use it as `async with asr.call(...) as call:`."""
        return CallStream(
            self, call_id, fmt, dict(roles or default_roles(fmt.channels)), language, dict(metadata or {})
        )


@dataclass(frozen=True, slots=True)
class GatedAudio:
    """Silence a leg's voice-activity gate kept from the recognizer: `skipped` seconds since the last report;
    `final` (once, when the leg ended) also carries the leg's totals."""

    speaker: Speaker
    skipped: float
    final: bool = False
    total_skipped: float = 0.0
    total_seconds: float = 0.0


@dataclass(slots=True)
class _Leg:
    transcriber: LegTranscriber
    buffer: LegBuffer
    received: float = 0.0
    decoded: float = 0.0
    reported_skip: float = 0.0


_END = object()


class CallStream:
    """One call: `feed`/`feed_leg` audio, `events()` to read CallStarted, Utterances, AudioTicks, CallEnded.

    Enter it (`async with`) in the task that feeds; a failing leg worker cancels that task and the exception
    propagates out of the `async with` (as an ExceptionGroup) and out of `events()`.
    """

    def __init__(
        self,
        asr: Transcription,
        call_id: str,
        fmt: AudioFormat,
        roles: dict[int, Speaker],
        language: str,
        metadata: dict[str, str],
    ) -> None:
        self.asr = asr
        self.call_id = call_id
        self.fmt = fmt
        self.language = language
        self.metadata = metadata
        self._leg_fmt = AudioFormat(fmt.encoding, fmt.rate, 1)
        cfg = asr.config
        self._legs = [
            _Leg(
                LegTranscriber(
                    LegIdentity(call_id, c, roles.get(c, Speaker.UNKNOWN), fmt.rate), asr.model, cfg.asr, pool=asr.pool
                ),
                LegBuffer(f"call {call_id} leg {c}", cfg.max_queued_seconds, cfg.overflow),
            )
            for c in range(fmt.channels)
        ]
        self._events: asyncio.Queue[Event | object] = asyncio.Queue()
        self._order = AudioTimeOrder(fmt.channels)
        mono = fmt.channels == 1 and roles.get(0, Speaker.UNKNOWN) is Speaker.UNKNOWN
        self._attributor = SpeakerAttributor(language) if mono and cfg.attribute_mono else None
        self._group = asyncio.TaskGroup()
        self._next_tick = cfg.tick_seconds
        self._last_tick = 0.0
        self._finished_legs = 0
        self._end_reason = "stream-closed"
        self._ended = False
        self._failure: BaseException | None = None

    @property
    def lag(self) -> float:
        """Seconds of audio received but not yet decoded (max over legs)."""
        return max(leg.received - leg.decoded for leg in self._legs)

    @property
    def clock(self) -> float:
        """The call's audio clock: minimum over legs of audio decoded."""
        return min(leg.decoded for leg in self._legs)

    @property
    def shed_seconds(self) -> float:
        return sum(leg.buffer.shed_seconds for leg in self._legs)

    async def __aenter__(self) -> CallStream:
        await asyncio.to_thread(self._prepare_legs)  # recognizer creation blocks ~0.1-0.2 s a leg: not on the loop
        await self._group.__aenter__()
        self._events.put_nowait(CallStarted(self.call_id, 0.0, self.language, self.metadata))
        for leg in self._legs:
            self._group.create_task(self._work(leg), name=f"asr {self.call_id} leg {leg.transcriber.leg.channel}")
        return self

    def _prepare_legs(self) -> None:
        for leg in self._legs:
            leg.transcriber.prepare()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            await self.end(self._end_reason)
        self._failure = exc
        try:
            await self._group.__aexit__(exc_type, exc, tb)
        except BaseException as failure:
            self._failure = failure
            raise
        finally:
            if self._finished_legs < len(self._legs):
                self._events.put_nowait(CallEnded(self.call_id, self._length(), "error"))
                self._events.put_nowait(_END)

    async def feed(self, data: bytes | Pcm) -> None:
        """Audio of all legs: interleaved frames in the call's format (or int16 samples shaped (frames, legs))."""
        pcm = self._decode(data, self.fmt)
        for leg in self._legs:
            await self._put(leg, channel_bytes(pcm, leg.transcriber.leg.channel), pcm.shape[0])

    async def feed_leg(self, channel: int, data: bytes | Pcm) -> None:
        """Audio of one leg (protocols that send each track separately): mono frames in the call's encoding."""
        if not 0 <= channel < len(self._legs):
            raise CodecError(f"call {self.call_id} has legs 0..{len(self._legs) - 1}; got audio for leg {channel}")
        pcm = self._decode(data, self._leg_fmt)
        await self._put(self._legs[channel], channel_bytes(pcm, 0), pcm.shape[0])

    async def cut(self) -> None:
        """Every leg's open utterance ends at the audio received so far (the peer paused, or changed language)."""
        if self._ended:
            return
        for leg in self._legs:
            await leg.buffer.cut()

    async def end(self, reason: str = "hangup") -> None:
        """No more audio: legs flush their last utterance, then CallEnded(reason) closes the event stream."""
        if self._ended:
            return
        self._ended = True
        self._end_reason = reason
        for leg in self._legs:
            await leg.buffer.close()

    async def events(self) -> AsyncIterator[Event]:
        """The call's events in order, ending after CallEnded (raises if the call failed)."""
        while True:
            event = await self._events.get()
            if event is _END:
                if self._failure is not None:
                    raise RuntimeError(f"transcription of call {self.call_id} failed") from self._failure
                return
            assert isinstance(event, CallStarted | Utterance | AudioTick | CallEnded | DigitReading)
            yield event

    def _decode(self, data: bytes | Pcm, fmt: AudioFormat) -> Pcm:
        if self._ended:
            raise RuntimeError(f"call {self.call_id}: audio fed after end()")
        if isinstance(data, np.ndarray):
            pcm = data.reshape(-1, 1) if data.ndim == 1 else data
            if pcm.dtype != np.int16 or pcm.shape[1] != fmt.channels:
                raise CodecError(
                    f"call {self.call_id}: expected int16 samples with {fmt.channels} column(s), "
                    f"got {pcm.dtype} shaped {data.shape}"
                )
            return pcm
        return decode(data, fmt)

    async def _put(self, leg: _Leg, pcm: bytes, frames: int) -> None:
        if frames == 0:
            return
        seconds = frames / self.fmt.rate
        leg.received += seconds
        await leg.buffer.put(pcm, seconds)

    async def _work(self, leg: _Leg) -> None:
        loop = asyncio.get_running_loop()
        executor = self.asr.executor
        while (taken := await leg.buffer.take(self.asr.config.max_batch_seconds)) is not None:
            batch, seconds = taken
            events = await loop.run_in_executor(executor, _decode_batch, leg.transcriber, batch)
            leg.decoded = leg.transcriber.decoded_seconds
            await leg.buffer.done(seconds)
            self._report_gated(leg, final=False)
            self._publish(events)
        events = await loop.run_in_executor(executor, leg.transcriber.finish)
        leg.decoded = leg.transcriber.decoded_seconds
        self._report_gated(leg, final=True)
        self.asr.recycled += leg.transcriber.recycles
        self._finished_legs += 1
        digits = leg.transcriber.digits
        if digits is not None and digits.stats.sessions and self.asr.on_digit_pass is not None:
            self.asr.on_digit_pass(digits.stats)
        self._publish(events)
        if self._finished_legs == len(self._legs):
            if self.clock > self._last_tick:
                self._events.put_nowait(AudioTick(self.call_id, round(self.clock, 3)))
            self._events.put_nowait(CallEnded(self.call_id, self._length(), self._end_reason))
            self._events.put_nowait(_END)

    def _report_gated(self, leg: _Leg, final: bool) -> None:
        skipped = leg.transcriber.skipped_seconds
        report = self.asr.on_gated
        if report is None or not leg.transcriber.gated or (skipped == leg.reported_skip and not final):
            return
        delta, leg.reported_skip = skipped - leg.reported_skip, skipped
        speaker = leg.transcriber.leg.speaker
        report(GatedAudio(speaker, delta, final, skipped, leg.decoded) if final else GatedAudio(speaker, delta))

    @property
    def skipped_seconds(self) -> float:
        """Audio the legs' voice-activity gates kept from the recognizers so far (summed over legs)."""
        return sum(leg.transcriber.skipped_seconds for leg in self._legs)

    @property
    def digit_stats(self) -> DigitPassStats:
        """What the legs' digit passes did so far (summed over legs)."""
        total = DigitPassStats()
        for leg in self._legs:
            digits = leg.transcriber.digits
            if digits is not None:
                total.sessions += digits.stats.sessions
                total.audio_seconds += digits.stats.audio_seconds
                total.cpu_seconds += digits.stats.cpu_seconds
                total.readings += digits.stats.readings
        return total

    def _publish(self, events: list[Recognized]) -> None:
        """Queue a leg's new utterances, then hand out, in audio-time order, all that the call clock has passed.
        A payment phrase on one leg arms the digit pass of the other legs but the agent's (streams/digitpass.py),
        from the end of the utterance that held it (a leg decoded ahead of it opens on the answer it already heard);
        on a mono leg the agent's prompt arms the leg's own pass."""
        for event in self._attributed(events):
            self._order.add(event)
            if isinstance(event, Utterance) and event.text and has_payment_phrase(event.text):
                for leg in self._legs:
                    digits = leg.transcriber.digits
                    other = leg.transcriber.leg
                    if digits is None:
                        continue
                    if other.channel != event.channel and other.speaker is not Speaker.AGENT:
                        digits.arm(event.end)  # the phrase's leg may lag this one: it opens from here
                    elif self._attributor is not None and event.speaker is Speaker.AGENT:
                        digits.arm(event.end)  # a mono leg: the agent's payment prompt arms the leg's own pass
        clock = self.clock
        done = self._finished_legs == len(self._legs)
        lead = max(leg.decoded for leg in self._legs)
        hold = self.asr.config.max_queued_seconds  # a stalled leg delays the others by at most this much audio
        for event in self._order.flush() if done else self._order.release(clock, lead, hold):
            self._events.put_nowait(event)
        if clock >= self._next_tick:
            self._events.put_nowait(AudioTick(self.call_id, round(clock, 3)))
            self._last_tick = clock
            period = self.asr.config.tick_seconds
            self._next_tick = (int(clock / period) + 1) * period

    def _attributed(self, events: list[Recognized]) -> list[Recognized]:
        """The events with the mono leg's split into agent and customer turns (unchanged on other calls)."""
        attributor = self._attributor
        if attributor is None:
            return events
        out: list[Recognized] = []
        for event in events:
            if isinstance(event, Utterance):
                out.extend(attributor.attribute(event))
            else:
                out.append(attributor.attribute_reading(event))
        return out

    def _length(self) -> float:
        return round(max(leg.received for leg in self._legs), 3)


def _decode_batch(transcriber: LegTranscriber, batch: list[Item]) -> list[Recognized]:
    """Runs in a worker thread: the blocking Vosk calls for one leg's batch."""
    events: list[Recognized] = []
    for item in batch:
        if isinstance(item, Shed):
            events.extend(transcriber.skip(item.seconds))
        elif isinstance(item, Cut):
            events.extend(transcriber.cut())
        else:
            events.extend(transcriber.accept(item))
    return events
