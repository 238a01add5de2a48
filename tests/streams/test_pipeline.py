"""The streaming pipeline on real speech: event order and clock, chunking invariance, backpressure, shedding, errors."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rules.events import AudioTick, CallEnded, CallStarted, Event, Speaker, Utterance
from streams.audiofile import EncodedAudio, read_audio
from streams.codecs import AudioFormat, CodecError, Encoding, channel_bytes, decode
from streams.legbuffer import Overflow
from streams.offline import feed_audio, transcribe_file
from streams.pipeline import CallStream, PipelineConfig, Transcription, default_roles
from streams.transcriber import AsrConfig, LegIdentity, LegTranscriber
from tests.streams.asr_support import pipeline_events, raw_vosk_text, tuned_model

pytestmark = pytest.mark.slow

CLIP = "librivox/sense_and_sensibility_01_austen_64kb-0880.wav"  # "he was not an ill disposed young man", 3 s


@pytest.fixture(scope="module")
def model(vosk_model_path: Path) -> Any:
    return tuned_model(vosk_model_path)


@pytest.fixture(scope="module")
def clip(shared_data: Path) -> EncodedAudio:
    return read_audio(shared_data / "audio" / CLIP)


def finals(events: list[Event]) -> list[Utterance]:
    """The final utterances, with the call id blanked (runs below use different ids), confidences zeroed
    and times rounded to 10 ms (Vosk's confidences and MBR word times vary slightly from run to run)."""
    return [
        replace(
            e,
            call_id="",
            start=round(e.start, 2),
            end=round(e.end, 2),
            words=tuple(replace(w, conf=0.0, start=round(w.start, 2), end=round(w.end, 2)) for w in e.words),
        )
        for e in events
        if isinstance(e, Utterance) and e.final
    ]


def test_event_stream_shape_and_audio_clock(model: Any, clip: EncodedAudio) -> None:
    # the recognizer's own output on a mono clip (one unknown leg); its split into agent and customer turns is
    # tested in tests/rules/test_attribution.py and, end to end, tests/monitor/test_mono_service.py
    events = pipeline_events(clip, model, attribute_mono=False)
    assert isinstance(events[0], CallStarted) and events[0].call_id == "test-call"
    assert events[-1] == CallEnded("test-call", round(clip.duration, 3), "stream-closed")
    ticks = [e.at for e in events if isinstance(e, AudioTick)]
    assert ticks == sorted(set(ticks)) and ticks[-1] == pytest.approx(clip.duration, abs=1e-3)
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert utterances and all(u.speaker is Speaker.UNKNOWN and u.channel == 0 for u in utterances)
    texts = " ".join(u.text for u in finals(events))
    pcm = channel_bytes(decode(clip.data, clip.fmt), 0)
    assert texts == raw_vosk_text(model, pcm, clip.fmt.rate)
    for u in finals(events):
        assert u.words and u.start == u.words[0].start and u.end == u.words[-1].end
        assert all(0 <= w.start <= w.end <= clip.duration for w in u.words)
    assert all(0 < w.conf <= 1 for u in utterances for w in u.words)
    partials = [u for u in utterances if not u.final]
    assert len(partials) >= 4, "a 3 s sentence yields growing partial results"
    assert all(not p.words and 0 < p.start == p.end <= clip.duration for p in partials)
    assert partials[0].start < 1.0 and partials[0].text.split()[0] == "he"
    for before, after in itertools.pairwise(partials):
        assert (before.index, before.text) != (after.index, after.text)  # only emitted when the text changed
    assert {p.index for p in partials} <= {f.index for f in finals(events)}
    # a tick at t is emitted only after every utterance ending before t
    for i, event in enumerate(events):
        if isinstance(event, AudioTick):
            later = [u for u in events[i:] if isinstance(u, Utterance) and u.final]
            assert all(u.end > event.at - 1.0 for u in later)


def test_results_do_not_depend_on_chunking_or_leg_api(model: Any, clip: EncodedAudio) -> None:
    baseline = finals(pipeline_events(clip, model, attribute_mono=False))
    coarse = finals(_run_with(model, clip, chunk_seconds=1.37))

    async def per_leg(call: CallStream) -> None:
        for chunk in clip.chunks(0.033):
            await call.feed_leg(0, chunk)
        await call.end()

    assert coarse == baseline
    assert finals(_run_custom(model, clip.fmt, per_leg)) == baseline


def _run_with(model: Any, clip: EncodedAudio, chunk_seconds: float) -> list[Event]:
    async def feed(call: CallStream) -> None:
        await feed_audio(call, clip, chunk_seconds)

    return _run_custom(model, clip.fmt, feed)


def _run_custom(model: Any, fmt: AudioFormat, feed: Any, config: PipelineConfig | None = None) -> list[Event]:
    """The pipeline's events for `feed`; these tests are about the recognizer's mechanics, so a mono clip stays one
    unknown leg (`attribute_mono` off unless `config` says otherwise)."""
    events: list[Event] = []
    config = config or PipelineConfig(attribute_mono=False)

    async def main() -> None:
        async with Transcription(config, model=model) as asr, asr.call("c", fmt) as call:
            drain = asyncio.create_task(_collect(call, events))
            await feed(call)
        await drain

    asyncio.run(main())
    return events


async def _collect(call: CallStream, into: list[Event]) -> None:
    async for event in call.events():
        into.append(event)


def test_backpressure_bounds_the_lag_and_loses_nothing(model: Any, clip: EncodedAudio) -> None:
    lags: list[float] = []
    config = PipelineConfig(workers=1, max_queued_seconds=0.5, max_batch_seconds=0.2, attribute_mono=False)

    async def feed(call: CallStream) -> None:
        for chunk in clip.chunks(0.02):
            await call.feed(chunk)
            lags.append(call.lag)
        await call.end()

    events = _run_custom(model, clip.fmt, feed, config)
    assert max(lags) <= 0.5 + 0.02 + 0.1 + 1e-6  # queue limit + one chunk + an incomplete 0.1 s slice
    assert max(lags) > 0.2  # the feeder really ran ahead and was held back
    assert finals(events) == finals(pipeline_events(clip, model, attribute_mono=False))


def test_shedding_is_counted_and_keeps_the_audio_clock(model: Any, clip: EncodedAudio) -> None:
    silence = EncodedAudio(clip.fmt, bytes(len(clip.data)))
    calls: list[CallStream] = []
    config = PipelineConfig(max_queued_seconds=0.5, overflow=Overflow.SHED, attribute_mono=False)

    async def feed(call: CallStream) -> None:
        calls.append(call)
        await feed_audio(call, silence, 0.1)  # never awaits in SHED mode: all but the first 0.5 s is shed

    events = _run_custom(model, clip.fmt, feed, config)
    assert calls[0].shed_seconds == pytest.approx(clip.duration - 0.5, abs=0.11)
    assert calls[0].clock == pytest.approx(clip.duration, abs=1e-3)
    assert events[-1] == CallEnded("c", round(clip.duration, 3), "stream-closed")


def test_shed_gap_shifts_later_word_times(model: Any, clip: EncodedAudio) -> None:
    speech = channel_bytes(decode(clip.data, clip.fmt), 0)
    leg = LegIdentity("c", 0, Speaker.AGENT, clip.fmt.rate)
    one_second = bytes(2 * clip.fmt.rate)
    shifted = LegTranscriber(leg, model)
    shifted.accept(one_second)
    shifted.skip(2.0)
    got = [w for u in shifted.accept(speech) + shifted.finish() if u.final for w in u.words]
    plain = LegTranscriber(leg, model)
    want = [w for u in plain.accept(one_second * 3 + speech) + plain.finish() if u.final for w in u.words]
    assert [w.text for w in got] == [w.text for w in want]
    assert all(abs(a.start - b.start) < 0.1 for a, b in zip(got, want, strict=True))
    assert got[0].start > 3.0


def test_stereo_roles_and_input_errors(model: Any) -> None:
    assert default_roles(2, 1) == {0: Speaker.CUSTOMER, 1: Speaker.AGENT}
    assert default_roles(1, 0) == {0: Speaker.UNKNOWN}
    assert default_roles(3, 0) == {0: Speaker.AGENT, 1: Speaker.UNKNOWN, 2: Speaker.UNKNOWN}
    with pytest.raises(ValueError, match="agent channel 2 does not exist"):
        default_roles(2, 2)
    fmt = AudioFormat(Encoding.MULAW, 8000, 2)

    async def feed(call: CallStream) -> None:
        with pytest.raises(CodecError, match="3 bytes of mulaw audio with 2 channel"):
            await call.feed(b"\xff\xff\xff")
        with pytest.raises(CodecError, match="expected int16 samples with 2 column"):
            await call.feed(np.zeros((4, 3), dtype=np.int16))
        with pytest.raises(CodecError, match=r"has legs 0\.\.1; got audio for leg 5"):
            await call.feed_leg(5, b"\xff")
        await call.feed(np.zeros((800, 2), dtype=np.int16))
        await call.end("hangup")
        with pytest.raises(RuntimeError, match="audio fed after end"):
            await call.feed(b"\xff\xff")

    events = _run_custom(model, fmt, feed)
    assert events[-1] == CallEnded("c", 0.1, "hangup")


def test_a_failing_worker_propagates(model: Any, clip: EncodedAudio, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: LegTranscriber, pcm: bytes) -> list[Utterance]:
        raise OSError("decoder exploded")

    monkeypatch.setattr(LegTranscriber, "accept", broken)
    seen: list[BaseException] = []

    async def main() -> None:
        async with Transcription(model=model) as asr:
            call = asr.call("c", clip.fmt)

            async def consume() -> None:
                try:
                    async for _ in call.events():
                        pass
                except RuntimeError as exc:
                    seen.append(exc)

            consumer = asyncio.create_task(consume())
            with pytest.raises(ExceptionGroup) as group:
                async with call:
                    await feed_audio(call, clip, 0.02)
                    await asyncio.sleep(5)
            assert group.group_contains(OSError, match="decoder exploded")
            await asyncio.wait_for(consumer, 5)

    asyncio.run(main())
    assert seen and "transcription of call c failed" in str(seen[0])


def test_mulaw_file_through_the_sync_api(shared_data: Path, vosk_model_path: Path) -> None:
    # Azure-Samples/cognitive-services-speech-sdk whatstheweatherlike-mulaw.wav: "what's the weather like"
    events = transcribe_file(
        shared_data / "audio" / "whatstheweatherlike-mulaw.wav",
        config=PipelineConfig(asr=AsrConfig(model_path=str(vosk_model_path))),
    )
    text = " ".join(e.text for e in finals(events))
    assert "weather like" in text, text


def test_a_cut_ends_the_open_utterance_where_the_audio_stopped(model: Any, clip: EncodedAudio) -> None:
    """CallStream.cut (an AudioHook client paused or changed language): the utterance open at that point ends there
    as a final, and the speech after it is a new utterance; the audio clock is unchanged."""
    speech = [u for u in finals(pipeline_events(clip, model, attribute_mono=False)) if len(u.words) >= 6]
    assert speech, "the clip has no utterance of six words or more"
    longest = max(speech, key=lambda u: len(u.words))
    middle = longest.words[len(longest.words) // 2]
    at = round((middle.start + middle.end) / 2, 1)  # the cut falls in the middle of that utterance

    async def feed(call: CallStream) -> None:
        for chunk in clip.chunks(0.1):
            await call.feed(chunk)
            if call._legs[0].received == pytest.approx(at, abs=1e-6):
                await call.cut()
        await call.end()

    events = _run_custom(model, clip.fmt, feed)
    cut = finals(events)
    before = [u for u in cut if u.end <= at + 0.05]
    after = [u for u in cut if u.start >= at - 0.05]
    assert len(cut) == len(before) + len(after), [(u.start, u.end, u.text) for u in cut]
    assert any(abs(u.end - at) < 0.6 for u in before) and any(abs(u.start - at) < 0.6 for u in after)
    assert not any(u.start < at - 0.3 and u.end > at + 0.3 for u in cut)  # nothing spans the cut (it did before)
    assert events[-1] == CallEnded("c", round(clip.duration, 3), "hangup")
