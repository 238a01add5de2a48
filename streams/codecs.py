"""Telephony audio codecs: G.711 mu-law/A-law, PCM s16le and unsigned 8-bit → per-channel int16, by lookup tables."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]
"""int16 samples shaped (frames, channels); channel c of the call is column c."""


class CodecError(ValueError):
    """Audio bytes or an audio format that cannot be decoded; the message says what, where and how to fix it."""


class Encoding(StrEnum):
    """How one sample is stored on the wire (the values are the names the ingest protocols use)."""

    MULAW = "mulaw"
    ALAW = "alaw"
    S16LE = "pcm_s16le"
    U8 = "pcm_u8"


ASR_SAMPLE_RATES: tuple[int, ...] = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""The sample rates a call may declare: what telephony sends and the recognizer's resampler handles in real time.
Vosk's AcceptWaveform never returns at 1-2 Hz (it spins a worker thread forever), so nothing else reaches it."""


def check_asr_rate(rate: object, where: str = "audio") -> int:
    """`rate` if it is one of ASR_SAMPLE_RATES, else a CodecError saying what is accepted."""
    if isinstance(rate, bool) or not isinstance(rate, int) or rate not in ASR_SAMPLE_RATES:
        shown = repr(rate)[:24]
        known = ", ".join(str(r) for r in ASR_SAMPLE_RATES)
        raise CodecError(f"{where}: sample rate {shown} Hz unsupported (use {known})")
    return rate


SAMPLE_BYTES: dict[Encoding, int] = {Encoding.MULAW: 1, Encoding.ALAW: 1, Encoding.S16LE: 2, Encoding.U8: 1}
SILENCE_BYTES: dict[Encoding, bytes] = {
    Encoding.MULAW: b"\xff", Encoding.ALAW: b"\xd5", Encoding.S16LE: b"\x00", Encoding.U8: b"\x80"
}


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """The shape of an audio byte stream: sample encoding, frames per second, interleaved channels."""

    encoding: Encoding
    rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        try:
            Encoding(self.encoding)
        except ValueError:
            known = ", ".join(e.value for e in Encoding)
            raise CodecError(f"unsupported audio encoding {self.encoding!r}; use one of: {known}") from None
        if not isinstance(self.rate, int) or self.rate <= 0:
            raise CodecError(f"sample rate must be a positive integer of Hz, got {self.rate!r}")
        if not isinstance(self.channels, int) or self.channels <= 0:
            raise CodecError(f"channel count must be a positive integer, got {self.channels!r}")

    @property
    def sample_width(self) -> int:
        """Bytes per sample of one channel."""
        return SAMPLE_BYTES[Encoding(self.encoding)]

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame (one sample of every channel)."""
        return self.sample_width * self.channels

    def silence(self, frames: int) -> bytes:
        """`frames` frames of silence in this format."""
        return SILENCE_BYTES[Encoding(self.encoding)] * (self.sample_width * self.channels * frames)

    def seconds(self, nbytes: int) -> float:
        """Seconds of audio held by `nbytes` bytes in this format."""
        return nbytes / self.frame_bytes / self.rate


def _mulaw_decode_table() -> Pcm:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> Pcm:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    shifted = ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, shifted)
    return np.where(a & 0x80, magnitude, -magnitude).astype(np.int16)


def _segment(value: npt.NDArray[np.int32], ends: tuple[int, ...]) -> npt.NDArray[np.int32]:
    """The G.711 segment number of each value: how many segment end points lie below it."""
    return np.searchsorted(np.array(ends, dtype=np.int32), value, side="left").astype(np.int32)


def _mulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    value = np.minimum(np.abs(pcm), 8159) + (0x84 >> 2)
    seg = _segment(value, (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF))
    code = (seg << 4) | ((value >> (seg + 1)) & 0x0F)
    return (np.where(seg >= 8, 0x7F, code) ^ mask).astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    value = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = _segment(value, (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF))
    mantissa = np.where(seg < 2, value >> 1, value >> np.maximum(seg, 1)) & 0x0F
    code = np.where(seg >= 8, 0x7F, (seg << 4) | mantissa)
    return (code ^ mask).astype(np.uint8)


MULAW_TO_PCM: Pcm = _mulaw_decode_table()
ALAW_TO_PCM: Pcm = _alaw_decode_table()
PCM_TO_MULAW: npt.NDArray[np.uint8] = _mulaw_encode_table()
PCM_TO_ALAW: npt.NDArray[np.uint8] = _alaw_encode_table()
U8_TO_PCM: Pcm = ((np.arange(256, dtype=np.int32) - 128) << 8).astype(np.int16)


def decode(data: bytes | bytearray | memoryview, fmt: AudioFormat) -> Pcm:
    """Decode whole frames of `fmt` audio into int16 samples shaped (frames, channels)."""
    nbytes = len(data)
    if nbytes % fmt.frame_bytes:
        raise CodecError(
            f"{nbytes} bytes of {fmt.encoding} audio with {fmt.channels} channel(s) is not a whole number of "
            f"{fmt.frame_bytes}-byte frames ({nbytes % fmt.frame_bytes} stray byte(s)); "
            f"feed whole frames or check the declared format"
        )
    raw = np.frombuffer(data, dtype=np.uint8)
    encoding = Encoding(fmt.encoding)
    if encoding is Encoding.S16LE:
        samples: Pcm = np.frombuffer(data, dtype="<i2").astype(np.int16)
    elif encoding is Encoding.MULAW:
        samples = MULAW_TO_PCM[raw]
    elif encoding is Encoding.ALAW:
        samples = ALAW_TO_PCM[raw]
    else:
        samples = U8_TO_PCM[raw]
    return samples.reshape(-1, fmt.channels)


def encode(pcm: Pcm, encoding: Encoding) -> bytes:
    """Encode int16 samples (any shape; interleaved in C order) as `encoding` bytes."""
    flat = np.ascontiguousarray(pcm, dtype=np.int16).reshape(-1)
    encoding = Encoding(encoding)
    if encoding is Encoding.S16LE:
        return flat.astype("<i2").tobytes()
    index = flat.astype(np.int32) + 32768
    if encoding is Encoding.MULAW:
        return PCM_TO_MULAW[index].tobytes()
    if encoding is Encoding.ALAW:
        return PCM_TO_ALAW[index].tobytes()
    return ((flat.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()


def channel_bytes(pcm: Pcm, channel: int) -> bytes:
    """One channel of (frames, channels) samples as s16le bytes (what the recognizer takes)."""
    if not 0 <= channel < pcm.shape[1]:
        raise CodecError(f"channel {channel} does not exist in audio with {pcm.shape[1]} channel(s)")
    return np.ascontiguousarray(pcm[:, channel]).astype("<i2").tobytes()
