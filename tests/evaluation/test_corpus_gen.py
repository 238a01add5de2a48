"""The generated development corpus: noise at the asked SNR, G.711 round trip, test cards, labels, determinism."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from evaluation.corpus_gen import GeneratorOptions, describe_corpus, draw_conditions, write_generated_corpus
from evaluation.corpus_labels import load_labels
from evaluation.corpus_scripts import KIND_CYCLE, load_test_cards, near_miss
from evaluation.degrade import Noise, add_noise, g711_round_trip, noise_samples, speech_power
from evaluation.synth import DIGIT_WORDS, FSDD_SPEAKERS
from rules.cards import luhn_valid


def _tone(seconds: float = 2.0, rate: int = 8000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    mono = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    stereo = np.zeros((mono.size * 2, 2), dtype=np.int16)
    stereo[: mono.size, 0] = mono  # agent talks first, then the customer
    stereo[mono.size :, 1] = mono
    return stereo


@pytest.mark.parametrize("kind", [Noise.WHITE, Noise.PINK])
@pytest.mark.parametrize("snr", [10.0, 20.0, 30.0])
def test_noise_is_added_at_the_asked_snr(kind: Noise, snr: float) -> None:
    clean = _tone()
    noisy = add_noise(clean, kind, snr, np.random.default_rng(3))
    noise = noisy.astype(np.float64) - clean
    measured = 10 * np.log10(speech_power(clean) / np.mean(noise**2))
    assert measured == pytest.approx(snr, abs=0.3)
    assert np.count_nonzero(noise[:, 1]) > 0.9 * noise.shape[0]  # noise on both legs, also in silence


def test_pink_noise_has_more_power_at_low_frequencies() -> None:
    pink = noise_samples(Noise.PINK, 8000 * 4, np.random.default_rng(1))
    spectrum = np.abs(np.fft.rfft(pink)) ** 2
    low, high = spectrum[10:400].mean(), spectrum[8000:16000].mean()
    assert low > 20 * high
    assert np.mean(pink**2) == pytest.approx(1.0, rel=1e-6)


def test_clean_leaves_audio_untouched() -> None:
    clean = _tone()
    assert add_noise(clean, Noise.CLEAN, 10.0, np.random.default_rng(0)) is clean


def test_mulaw_round_trip_keeps_the_signal_within_g711_error() -> None:
    clean = _tone()
    line = g711_round_trip(clean, 8000)
    assert line.shape == clean.shape
    error = np.abs(line.astype(np.int32) - clean)
    assert 0 < error.max() <= 256  # mu-law step at 8000 amplitude is 256
    assert 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(error**2.0)) > 30


def test_test_cards_are_luhn_valid_and_near_misses_are_not(shared_data: Path) -> None:
    cards = load_test_cards(shared_data / "text" / "test-pans.tsv")
    assert "4111111111111111" in cards and "378282246310005" in cards
    assert len(cards) == len(set(cards)) >= 20
    assert all(luhn_valid(c) and 13 <= len(c) <= 19 for c in cards)
    for card in cards:
        miss = near_miss(card)
        assert len(miss) == len(card) and miss[:-1] == card[:-1] and not luhn_valid(miss)


def test_missing_test_cards_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"test-pans\.tsv"):
        load_test_cards(tmp_path / "nope.tsv")


def test_options_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="dB >= 0"):
        GeneratorOptions(snrs=(-5.0,))
    with pytest.raises(ValueError, match="FSDD speakers"):
        GeneratorOptions(digit_speakers=("bob",))


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_generation_is_deterministic_per_seed_and_labels_are_exact(
    tmp_path: Path, espeak: str, shared_data: Path
) -> None:
    options = GeneratorOptions(
        fsdd_dir=shared_data / "audio" / "fsdd", test_pans=shared_data / "text" / "test-pans.tsv"
    )
    first = write_generated_corpus(tmp_path / "a", 5, seed=11, options=options)
    write_generated_corpus(tmp_path / "b", 5, seed=11, options=options)
    write_generated_corpus(tmp_path / "c", 2, seed=12, options=options)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["000-pan.wav"] != _digest(tmp_path / "c")["000-pan.wav"]
    labels = [load_labels(p) for p in first]
    assert [x.tags[0] for x in labels] == list(KIND_CYCLE[:5])
    for label in labels:
        assert set(label.conditions) >= {"agent_voice", "customer_voice", "digit_speaker", "snr_db", "codec"}
        assert 120 <= label.conditions["agent_speed"] <= 160 and label.conditions["codec"] == "mulaw"
        for e in label.expect:
            if e.present and e.at is not None and e.start is not None and e.end is not None:
                assert e.start <= e.at < e.end
    pan = labels[0]
    [card_label] = [e for e in pan.expect if e.outcome == "pan_detected"]
    [turn] = [t for t in pan.turns if t["start"] == pytest.approx(card_label.start, abs=0.002)]
    digits = "".join(str(DIGIT_WORDS.index(w)) for w in turn["text"].split() if w in DIGIT_WORDS)
    assert digits in load_test_cards(options.test_pans)
    summary = describe_corpus(labels)
    assert summary["calls"] == 5 and summary["counts"]["kind"]["pan"] == 2


def test_every_kind_cycles_through_all_fsdd_speakers() -> None:
    options = GeneratorOptions()
    by_kind: dict[str, list[str]] = {}
    for index in range(6 * len(KIND_CYCLE)):
        cast = draw_conditions(random.Random(index), index, options).cast
        by_kind.setdefault(KIND_CYCLE[index % len(KIND_CYCLE)], []).append(cast.digit_speaker)
    for kind, speakers in by_kind.items():
        counts = {s: speakers.count(s) for s in FSDD_SPEAKERS}
        assert max(counts.values()) - min(counts.values()) == 0, (kind, counts)
