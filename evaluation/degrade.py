"""Telephone-line degradations for synthesized calls: white/pink background noise at a set SNR, G.711 round trip."""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

from streams.codecs import AudioFormat, Encoding, decode, encode

Pcm = npt.NDArray[np.int16]
SPEECH_THRESHOLD = 200
"""Samples louder than this (int16) count as speech when measuring the signal power for an SNR."""


class Noise(StrEnum):
    """The colour of the background noise added to a call."""

    CLEAN = "clean"
    WHITE = "white"
    PINK = "pink"


def noise_samples(kind: Noise, frames: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """`frames` samples of unit-power noise of `kind` (pink: 1/f power spectrum, shaped in the FFT domain)."""
    white = rng.standard_normal(frames)
    if kind is Noise.WHITE or frames < 2:
        return white
    if kind is not Noise.PINK:
        raise ValueError(f"no noise samples for {kind!r}; use white or pink")
    spectrum = np.fft.rfft(white)
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n=frames)
    return np.asarray(pink / np.sqrt(np.mean(pink**2)), dtype=np.float64)


def speech_power(audio: Pcm) -> float:
    """Mean power of the speech samples (|x| > SPEECH_THRESHOLD) over all channels; 0.0 for silence."""
    samples = audio.astype(np.float64).reshape(-1)
    speech = samples[np.abs(samples) > SPEECH_THRESHOLD]
    return float(np.mean(speech**2)) if speech.size else 0.0


def add_noise(audio: Pcm, kind: Noise, snr_db: float, rng: np.random.Generator) -> Pcm:
    """`audio` (frames, channels) with independent `kind` noise on every channel, `snr_db` below the speech power.

    The noise runs through the whole call (also between turns), like line or room noise. CLEAN returns the
    audio unchanged.
    """
    if kind is Noise.CLEAN:
        return audio
    power = speech_power(audio)
    if power == 0.0:
        return audio
    scale = np.sqrt(power / 10 ** (snr_db / 10))
    frames = audio.reshape(audio.shape[0], -1)
    noisy = frames.astype(np.float64)
    for channel in range(noisy.shape[1]):
        noisy[:, channel] += scale * noise_samples(kind, noisy.shape[0], rng)
    return np.clip(np.round(noisy), -32768, 32767).astype(np.int16).reshape(audio.shape)


def g711_round_trip(audio: Pcm, rate: int, encoding: Encoding = Encoding.MULAW) -> Pcm:
    """`audio` (frames, channels) encoded to G.711 (mu-law by default) and decoded back, as a phone line does."""
    frames = audio.reshape(audio.shape[0], -1)
    wire = encode(frames, encoding)
    return decode(wire, AudioFormat(encoding, rate, frames.shape[1])).reshape(audio.shape)
