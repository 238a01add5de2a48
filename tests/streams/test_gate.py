"""Voice-activity gating before the recognizer, with the real model on real speech: silence is skipped, the call's
audio clock keeps running, word times stay in call time, finals stay prompt, unsupported rates are not gated."""

from __future__ import annotations

import asyncio
import difflib
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rules.events import AudioTick, CallEnded, Event, Speaker, Utterance, Word
from streams.audiofile import EncodedAudio
from streams.codecs import AudioFormat, Encoding
from streams.offline import run_audio
from streams.pipeline import GatedAudio, PipelineConfig, Transcription
from streams.transcriber import AsrConfig, LegIdentity, LegTranscriber
from streams.vad import GateConfig, SileroDetector, WebRtcDetector, gate_config, make_detector
from tests.streams.asr_support import tuned_model

RATE = 8000
GAP_SECONDS = 6.0
FRAME_TOLERANCE = 0.09 + 1e-6
"""Three output frames of the model (frame subsampling 3 × 10 ms). Vosk's own word times vary by one frame between
runs of the same audio; gated or recycled decodes measured at most two (0.06 s) here."""


@pytest.fixture(scope="module")
def model(vosk_model_path: Path) -> Any:
    return tuned_model(vosk_model_path)


@pytest.fixture(scope="module")
def long_silences(shared_data: Path) -> EncodedAudio:
    """The five LibriVox clips at 8 kHz, each followed by 6 s of faint line hiss (a leg while the other party talks)."""
    rng = np.random.default_rng(3)
    pieces = []
    for clip in sorted((shared_data / "audio" / "librivox").glob("*.wav")):
        cmd = ["sox", str(clip), "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"]
        pieces.append(np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, dtype=np.int16))
        pieces.append(rng.normal(0, 30, int(GAP_SECONDS * RATE)).astype(np.int16))
    return EncodedAudio(AudioFormat(Encoding.S16LE, RATE), np.concatenate(pieces).astype("<i2").tobytes())


def transcribe(
    model: Any, audio: EncodedAudio, gate: GateConfig, recycle: float | None = None, stats: dict[str, int] | None = None
) -> tuple[list[Event], list[GatedAudio]]:
    """Events and gate reports of `audio` as one leg; `stats` gets the recognizers recycled and pool misses."""
    events: list[Event] = []
    gated: list[GatedAudio] = []

    async def main() -> None:
        config = PipelineConfig(asr=AsrConfig(gate=gate, recycle_seconds=recycle))
        async with Transcription(config, model=model, model_rate=RATE, on_gated=gated.append) as asr:
            await run_audio(asr, audio, events.append, "gate", agent_channel=None)
            if stats is not None:
                stats.update(recycled=asr.recycled, misses=asr.pool.misses if asr.pool else -1)

    asyncio.run(main())
    return events, gated


def aligned(a: list[Word], b: list[Word]) -> list[tuple[Word, Word]]:
    """The words of two decodes of the same audio that have the same text, paired in order."""
    matcher = difflib.SequenceMatcher(a=[w.text for w in a], b=[w.text for w in b], autojunk=False)
    return [(a[i + k], b[j + k]) for i, j, n in matcher.get_matching_blocks() for k in range(n)]


def worst_shift(pairs: list[tuple[Word, Word]]) -> float:
    return max(max(abs(x.start - y.start), abs(x.end - y.end)) for x, y in pairs)


def final_words(events: list[Event]) -> list[Word]:
    return [w for e in events if isinstance(e, Utterance) and e.final for w in e.words]


def released_within(events: list[Event], seconds: float) -> bool:
    """Every final came out before the call clock (ticks) passed its end by `seconds`."""
    clock = 0.0
    for event in events:
        if isinstance(event, AudioTick):
            clock = event.at
        elif isinstance(event, Utterance) and event.final and clock > event.end + seconds:
            return False
    return True


@pytest.mark.slow
def test_gated_call_keeps_call_time_words_and_prompt_finals(model: Any, long_silences: EncodedAudio) -> None:
    ungated, none = transcribe(model, long_silences, GateConfig(enabled=False))
    gated, reports = transcribe(model, long_silences, GateConfig(enabled=True))
    assert none == []  # nothing reported when the gate is off
    # the audio clock ran over the skipped silence: same ticks (one per second), same call length
    ticks = [e.at for e in gated if isinstance(e, AudioTick)]
    assert ticks == [e.at for e in ungated if isinstance(e, AudioTick)]
    assert ticks[-1] == pytest.approx(long_silences.duration, abs=1e-3)
    assert np.all(np.diff(ticks) <= 2.0)  # a tick per decoded batch (≤ 1 s of audio) that crossed a whole second
    assert gated[-1] == ungated[-1] == CallEnded("gate", round(long_silences.duration, 3), "stream-closed")
    # most of the silence was skipped (each gap loses the hangover, 0.8 s, and the pre-roll, 0.3 s, to decoding;
    # WebRTC's VAD also holds on a little after speech and takes breaths for speech), and the metrics were told
    final = [r for r in reports if r.final]
    assert len(final) == 1 and final[0].total_seconds == pytest.approx(long_silences.duration, abs=0.11)
    assert sum(r.skipped for r in reports) == pytest.approx(final[0].total_skipped)
    assert 0.6 * 5 * GAP_SECONDS <= final[0].total_skipped <= 5 * (GAP_SECONDS - 0.8 - 0.3) + 2.0
    # word times stay on the call's clock: the words both decodes share lie within two model frames
    a, b = final_words(ungated), final_words(gated)
    pairs = aligned(a, b)
    assert len(a) >= 60 and len(pairs) >= 0.9 * len(a)
    assert worst_shift(pairs) <= FRAME_TOLERANCE, [(x, y) for x, y in pairs if abs(x.start - y.start) > FRAME_TOLERANCE]
    # the words after each gap begin after it (call time, not recognizer time)
    assert b[-1].end > long_silences.duration - GAP_SECONDS - 1.0
    # finals stay prompt: the utterance before each long pause is out within 1.5 s of audio after its end
    assert released_within(ungated, 1.5) and released_within(gated, 1.5)


@pytest.mark.slow
@pytest.mark.parametrize("gated", [False, True], ids=["ungated", "gated"])
def test_recycled_recognizers_keep_word_times_continuous(model: Any, long_silences: EncodedAudio, gated: bool) -> None:
    """A leg that swaps its recognizer for a fresh one (from the pool) at utterance ends every 3 s of decoded audio
    reads the same words at the same call times as one that keeps its recognizer."""
    gate = GateConfig(enabled=gated)
    kept, _ = transcribe(model, long_silences, gate)
    stats: dict[str, int] = {}
    recycled, _ = transcribe(model, long_silences, gate, recycle=3.0, stats=stats)
    assert stats["recycled"] >= 4  # five clips of 3-6 s: at least one swap after each but the last
    assert stats["misses"] <= 1  # only the first take found the pool still empty
    a, b = final_words(kept), final_words(recycled)
    pairs = aligned(a, b)
    assert len(a) >= 60 and len(pairs) >= 0.85 * len(a)
    assert worst_shift(pairs) <= FRAME_TOLERANCE
    assert [e.at for e in recycled if isinstance(e, AudioTick)] == [e.at for e in kept if isinstance(e, AudioTick)]


@pytest.mark.slow
def test_silence_is_not_decoded_and_speech_onsets_are(model: Any, long_silences: EncodedAudio) -> None:
    """The first word after each gap is heard at its onset: pre-roll gives the recognizer the audio before it."""
    gated, _ = transcribe(model, long_silences, GateConfig(enabled=True))
    utterances = [e for e in gated if isinstance(e, Utterance) and e.final]
    starts = [u.start for u in utterances]
    assert len(utterances) >= 5
    # every clip's first word starts within 0.5 s of the clip's onset (clip onsets follow each 6 s gap)
    onsets = [0.0]
    position = 0.0
    data = np.frombuffer(long_silences.data, dtype="<i2")
    loud = np.flatnonzero(np.abs(data) > 300) / RATE
    for t in loud:
        if t - position > GAP_SECONDS - 0.5:
            onsets.append(float(t))
        position = float(t)
    for onset in onsets:
        assert any(0 <= start - onset <= 0.5 for start in starts), (onset, starts)


@pytest.mark.slow
def test_a_leg_at_a_rate_the_vad_does_not_take_is_not_gated(model: Any) -> None:
    on = AsrConfig(gate=GateConfig(enabled=True))
    assert not LegTranscriber(LegIdentity("c", 0, Speaker.AGENT, 11025), model, on).gated
    assert make_detector(GateConfig(enabled=True, engine="silero"), 32000) is None
    assert not LegTranscriber(LegIdentity("c", 0, Speaker.AGENT, 8000), model, AsrConfig()).gated
    leg8k = LegTranscriber(LegIdentity("c", 0, Speaker.AGENT, 8000), model, on)
    assert leg8k.gated
    assert leg8k.accept(bytes(RATE * 2 * 3)) == []  # 3 s of digital silence: decoded 0.8 s, skipped the rest
    assert leg8k.skipped_seconds == pytest.approx(3.0 - 0.8, abs=0.11)
    assert leg8k.decoded_seconds == pytest.approx(3.0)


def test_detectors_tell_silence_from_speech(shared_data: Path) -> None:
    cmd = ["sox", str(shared_data / "audio" / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"), "-t",
           "raw", "-r", str(RATE), "-e", "signed", "-b", "16", "-c", "1", "-"]
    speech = subprocess.run(cmd, capture_output=True, check=True).stdout
    hiss = np.random.default_rng(5).normal(0, 30, RATE * 3).astype("<i2").tobytes()
    for detector in (WebRtcDetector(RATE), SileroDetector(RATE)):
        slices = [detector(hiss[i : i + 1600]) for i in range(0, len(hiss), 1600)]
        assert sum(slices) <= 1, type(detector).__name__
        slices = [detector(speech[i : i + 1600]) for i in range(0, len(speech), 1600)]
        assert sum(slices) >= 0.7 * len(slices), type(detector).__name__


def test_gate_settings() -> None:
    assert gate_config("off") == GateConfig(enabled=False)
    assert gate_config("silero") == GateConfig(enabled=True, engine="silero")
    with pytest.raises(ValueError, match="engine must be one of webrtc, silero"):
        GateConfig(engine="energy")
    with pytest.raises(ValueError, match="aggressiveness must be 0, 1, 2 or 3"):
        GateConfig(aggressiveness=4)
    with pytest.raises(ValueError, match=r"hangover_seconds must be 0\.\.10 seconds"):
        GateConfig(hangover_seconds=-1)
