"""One call leg's Vosk recognizer: fixed audio slices in, Utterance events on the call's audio clock out (blocking)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rules.events import DigitReading, Speaker, Utterance, Word
from streams.codecs import check_asr_rate
from streams.digitpass import DigitPass, DigitPassConfig
from streams.recognizers import RecognizerPool, new_recognizer
from streams.tuning import TELEPHONY_ENDPOINTS, EndpointConfig
from streams.vad import GateConfig, make_detector

Recognized = Utterance | DigitReading
"""What a leg's recognizers produce: first-pass utterances and digit-pass readings."""


@dataclass(frozen=True, slots=True)
class AsrConfig:
    """How legs are recognized. Times are seconds of audio.

    `slice_seconds` is the audio handed to Vosk per AcceptWaveform call. It is fixed (not whatever chunk
    the network delivered), so results do not depend on how audio was chunked or how far ASR lagged.
    Vosk itself is not bit-reproducible: with several recognizers alive in one process (even one thread,
    even separate Models) a marginal word can differ between runs ("yeah go ahead" / "yes no had";
    vosk-api issues #868, #895). What replays exactly is a stored event log through the rules engine.

    Partials: with `partial_words` off (default) a partial carries the fresh hypothesis text, no words, and
    start = end = the leg's decoded audio position when it was produced. Vosk 0.3.45's partial-words mode
    (SetPartialWords) reports timed words, but on our clips its first partial came ~2 s into a 3 s
    sentence and then stopped growing, which defeats the purpose of partials.
    """

    language: str = "en-us"
    model_path: str | None = None
    endpoints: EndpointConfig = TELEPHONY_ENDPOINTS
    slice_seconds: float = 0.1
    partials: bool = True
    partial_every: float = 0.3  # seconds of audio between partial results (PartialResult is not free)
    partial_words: bool = False  # timed words in partials (Vosk's partial-words mode lags ~2 s and stalls; measured)
    digit_pass: DigitPassConfig = field(default_factory=DigitPassConfig)  # streams/digitpass.py
    gate: GateConfig = field(default_factory=GateConfig)  # voice-activity gating before the recognizer (streams/vad.py)
    # A leg's recognizer caches the graph states it visits and grows with the audio it decodes (~30 MB in its first
    # 5 s of speech, ~190 MB after 4.5 min; BENCHMARKS.md): at an utterance end after this much decoded audio it is
    # swapped for a fresh one (from the RecognizerPool when there is one). None: never.
    recycle_seconds: float | None = None

    def __post_init__(self) -> None:
        if not 0.01 <= self.slice_seconds <= 1.0:
            raise ValueError(f"AsrConfig.slice_seconds must be within 0.01..1.0 s, got {self.slice_seconds!r}")
        if self.recycle_seconds is not None and not 1.0 <= self.recycle_seconds <= 3600.0:
            raise ValueError(f"AsrConfig.recycle_seconds must be None or 1..3600 s, got {self.recycle_seconds!r}")
        if self.partial_every < self.slice_seconds:
            raise ValueError(
                f"AsrConfig.partial_every ({self.partial_every}) must be >= slice_seconds ({self.slice_seconds})"
            )


@dataclass(frozen=True, slots=True)
class LegIdentity:
    """Which call and leg a recognizer serves, who speaks on it, and when (call audio time) the leg began."""

    call_id: str
    channel: int
    speaker: Speaker
    rate: int
    offset: float = 0.0

    def __post_init__(self) -> None:
        # defence in depth behind the protocol edge: a recognizer at an absurd rate never returns (Vosk spins)
        check_asr_rate(self.rate, f"call {self.call_id} leg {self.channel}")


@dataclass(slots=True)
class _Gap:
    at: float  # recognizer time (s) where audio was shed
    seconds: float


@dataclass(slots=True)
class LegTranscriber:
    """Feeds one leg to its own KaldiRecognizer and turns results into Utterance events.

    Not thread-safe: one caller at a time (the pipeline runs each leg's calls serially in a worker thread).
    Vosk word times count audio fed to the recognizer; we add the leg's offset and any gaps (audio shed, or
    silence skipped by the voice-activity gate), so event times are on the call's audio clock.

    Gating (`AsrConfig.gate`, streams/vad.py): each slice is classified speech or silence. After `hangover_seconds`
    of silence following speech the recognizer's utterance is ended (FinalResult) and later silent slices are not
    decoded, only counted; the last `preroll_seconds` of them are kept and decoded ahead of the slice where speech
    returns. While the digit pass is open nothing is skipped (it needs the contiguous audio of a card reading).
    """

    leg: LegIdentity
    model: Any
    config: AsrConfig = field(default_factory=AsrConfig)
    _recognizer: Any = None
    _pending: bytearray = field(default_factory=bytearray)
    _fed_samples: int = 0
    _since_partial: int = 0
    _gaps: list[_Gap] = field(default_factory=list)
    _index: int = 0
    _partial_text: str = ""
    _finished: bool = False
    _digits: DigitPass | None = None
    _detector: Callable[[bytes], bool] | None = None
    _gate_ready: bool = False
    _skipping: bool = False  # the gate is closed: silent slices are counted, not decoded
    _quiet: int = 0  # samples of silence decoded since the last speech slice
    _skip_pending: int = 0  # samples skipped since the gate closed (not yet a gap)
    _preroll: deque[bytes] = field(default_factory=deque)
    _preroll_samples: int = 0
    _gated: int = 0  # samples the gate kept from the recognizer, in total
    pool: RecognizerPool | None = None  # where fresh recognizers come from when the leg's is recycled
    recycles: int = 0  # recognizers swapped for fresh ones so far
    _recognizer_base: int = 0  # leg samples fed before the current recognizer's time zero

    def prepare(self) -> None:
        """Create the Kaldi recognizer now if not yet done (blocking: ~0.1-0.2 s with the small models, whose
        lookahead graph is composed per recognizer — call it off the event loop; otherwise the first use does)."""
        if self._recognizer is None:
            self._recognizer = new_recognizer(self.model, self.leg.rate, self.config.partial_words)
        if self._digits is None and self.config.digit_pass.enabled:
            leg = self.leg
            self._digits = DigitPass(
                leg.call_id, leg.channel, leg.speaker, leg.rate, self.model, self._call_time, self.config.digit_pass
            )
        if not self._gate_ready:
            self._detector = make_detector(self.config.gate, self.leg.rate)
            self._gate_ready = True

    @property
    def digits(self) -> DigitPass | None:
        """The leg's digit pass (None when disabled), made by `prepare`."""
        return self._digits

    @property
    def recognizer(self) -> Any:
        self.prepare()
        return self._recognizer

    @property
    def slice_bytes(self) -> int:
        return max(1, round(self.config.slice_seconds * self.leg.rate)) * 2

    @property
    def decoded_seconds(self) -> float:
        """Audio of this leg consumed by the recognizer plus shed and skipped audio, on the leg's own clock."""
        return (self._fed_samples + self._skip_pending) / self.leg.rate + sum(g.seconds for g in self._gaps)

    @property
    def gated(self) -> bool:
        """True when this leg's audio goes through a voice-activity gate (enabled, and the engine takes its rate)."""
        self.prepare()
        return self._detector is not None

    @property
    def skipped_seconds(self) -> float:
        """Audio of this leg the gate kept from the recognizer (silence), so far."""
        return self._gated / self.leg.rate

    @property
    def pending_seconds(self) -> float:
        """Audio accepted but waiting for a whole slice before it goes to the recognizer."""
        return len(self._pending) / 2 / self.leg.rate

    def accept(self, pcm: bytes) -> list[Recognized]:
        """Take s16le mono samples; decode every whole slice now (blocking, releases the GIL inside Vosk)."""
        if self._finished:
            raise RuntimeError(f"call {self.leg.call_id} leg {self.leg.channel}: audio after finish()")
        if len(pcm) % 2:
            raise ValueError(f"call {self.leg.call_id} leg {self.leg.channel}: odd byte count {len(pcm)} for s16le")
        self._pending += pcm
        events: list[Recognized] = []
        step = self.slice_bytes
        whole = len(self._pending) - len(self._pending) % step
        decode = self._gate if self.gated else self._decode
        for start in range(0, whole, step):
            events.extend(decode(bytes(self._pending[start : start + step])))
        del self._pending[:whole]
        return events

    def _gate(self, piece: bytes) -> list[Recognized]:
        """One slice through the voice-activity gate (see the class docstring)."""
        assert self._detector is not None
        speech = self._detector(piece) or (self._digits is not None and self._digits.open)
        samples = len(piece) // 2
        if not self._skipping:
            events = self._decode(piece)
            self._quiet = 0 if speech else self._quiet + samples
            if self._quiet >= self.config.gate.hangover_seconds * self.leg.rate:
                self._skipping = True
                events.extend(self._final(self.recognizer.FinalResult()))
                self._maybe_recycle()
            return events
        if not speech:
            self._skip_pending += samples
            self._gated += samples
            self._preroll.append(piece)
            self._preroll_samples += samples
            keep = round(self.config.gate.preroll_seconds * self.leg.rate)
            while self._preroll and self._preroll_samples - len(self._preroll[0]) // 2 >= keep:
                self._preroll_samples -= len(self._preroll.popleft()) // 2
            return []
        preroll = list(self._preroll)
        self._gated -= self._preroll_samples
        self._skip_pending -= self._preroll_samples
        self._end_skip()
        events = []
        for earlier in preroll:
            events.extend(self._decode(earlier))
        events.extend(self._decode(piece))
        return events

    def _end_skip(self) -> None:
        """Open the gate: the audio skipped since it closed becomes a gap before what is decoded next."""
        if self._skip_pending:
            self._gaps.append(_Gap(self._fed_samples / self.leg.rate, self._skip_pending / self.leg.rate))
        self._skipping = False
        self._skip_pending = 0
        self._quiet = 0
        self._preroll.clear()
        self._preroll_samples = 0

    def skip(self, seconds: float) -> list[Recognized]:
        """Audio of `seconds` was shed before reaching us: close the current utterance, shift later times."""
        events: list[Recognized] = list(self._final(self.recognizer.FinalResult()))
        if self._digits is not None:
            events += self._digits.finish()
        skipping = self._skipping
        self._end_skip()
        self._skipping = skipping
        self._gaps.append(_Gap(self._fed_samples / self.leg.rate, seconds))
        return events

    def cut(self) -> list[Recognized]:
        """End the utterance open now (decoding what is pending first), as if the speaker had stopped here."""
        if self._finished:
            return []
        events = self._decode(bytes(self._pending)) if self._pending else []
        self._pending.clear()
        events.extend(self._final(self.recognizer.FinalResult()))
        return events

    def finish(self) -> list[Recognized]:
        """Decode what is left and flush the last utterance (the leg ended)."""
        if self._finished:
            return []
        events = self._decode(bytes(self._pending)) if self._pending else []
        self._pending.clear()
        events.extend(self._final(self.recognizer.FinalResult()))
        if self._digits is not None:
            events += self._digits.finish()
        self._end_skip()
        self._finished = True
        return events

    def _decode(self, piece: bytes) -> list[Recognized]:
        self._fed_samples += len(piece) // 2
        self._since_partial += len(piece) // 2
        first: list[Utterance] = []
        if self.recognizer.AcceptWaveform(piece):
            self._since_partial = 0
            first = self._final(self.recognizer.Result())
            self._maybe_recycle()
        elif self.config.partials and self._since_partial >= self.config.partial_every * self.leg.rate:
            self._since_partial = 0
            first = self._partial(self.recognizer.PartialResult())
        if self._digits is None:
            return list(first)
        for utterance in first:
            self._digits.noticed(utterance.text)
        return [*first, *self._digits.accept(piece, self._fed_samples)]

    def _maybe_recycle(self) -> None:
        """At an utterance end: swap the recognizer for a fresh one once it decoded `recycle_seconds` (its lookahead
        graph cache is then dropped). Word times stay continuous: the new one's time zero is the leg's fed position."""
        limit = self.config.recycle_seconds
        if limit is None or self._fed_samples - self._recognizer_base < limit * self.leg.rate:
            return
        fresh = self.pool.take(self.leg.rate) if self.pool is not None else None
        self._recognizer = fresh if fresh is not None else new_recognizer(
            self.model, self.leg.rate, self.config.partial_words
        )
        self._recognizer_base = self._fed_samples
        self.recycles += 1

    def _partial(self, raw: str) -> list[Utterance]:
        result = json.loads(raw)
        text = result.get("partial", "")
        if not text or text == self._partial_text:
            return []
        self._partial_text = text
        return [self._utterance(text, result.get("partial_result", []), final=False)]

    def _final(self, raw: str) -> list[Utterance]:
        result = json.loads(raw)
        text = result.get("text", "")
        if not text and not self._partial_text:
            return []  # a silent segment that was never announced
        event = self._utterance(text, result.get("result", []), final=True)
        self._index += 1
        self._partial_text = ""
        return [event]

    def _utterance(self, text: str, raw_words: list[dict[str, Any]], final: bool) -> Utterance:
        base = self._recognizer_base / self.leg.rate
        words = tuple(
            Word(
                w["word"],
                self._call_time(base + float(w["start"])),
                self._call_time(base + float(w["end"])),
                float(w.get("conf", 1)),
            )
            for w in raw_words
        )
        now = self.leg.offset + self.decoded_seconds
        start = words[0].start if words else now
        end = words[-1].end if words else now
        return Utterance(
            self.leg.call_id, self.leg.speaker, self.leg.channel, self._index, text, words, start, end, final
        )

    def _call_time(self, fed_time: float) -> float:
        """A time on the leg's fed-audio clock (seconds of audio decoded) → the call's audio clock."""
        shift = sum(g.seconds for g in self._gaps if g.at <= fed_time)
        return round(self.leg.offset + fed_time + shift, 3)
