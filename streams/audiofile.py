"""Audio files for offline use: WAV (PCM 8/16-bit, mu-law, A-law) kept in their wire encoding, else via soundfile."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streams.codecs import AudioFormat, CodecError, Encoding

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioFileError(CodecError):
    """An audio file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class EncodedAudio:
    """A whole file's audio as wire bytes in `fmt` (interleaved frames), ready to be fed like live audio."""

    fmt: AudioFormat
    data: bytes

    @property
    def duration(self) -> float:
        return self.fmt.seconds(len(self.data))

    def chunks(self, seconds: float) -> Iterator[bytes]:
        """The audio cut into chunks of `seconds` (whole frames; the last one may be shorter)."""
        if seconds <= 0:
            raise AudioFileError(f"chunk length must be positive seconds, got {seconds!r}")
        step = max(1, round(seconds * self.fmt.rate)) * self.fmt.frame_bytes
        for offset in range(0, len(self.data), step):
            yield self.data[offset : offset + step]


def read_audio(path: str | Path) -> EncodedAudio:
    """Read a WAV/FLAC/… file: telephony WAV encodings stay as they are, anything else becomes s16le."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"audio file {path} does not exist (or is not a file)")
    with path.open("rb") as f:
        head = f.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        wav = _read_wav(path)
        if wav is not None:
            return wav
    return _read_soundfile(path)


def _read_wav(path: Path) -> EncodedAudio | None:
    """Parse a RIFF/WAVE file whose encoding our codecs handle; None for encodings left to soundfile."""
    blob = path.read_bytes()
    fmt_chunk: bytes | None = None
    data: bytes | None = None
    offset = 12
    while offset + 8 <= len(blob):
        chunk_id, size = struct.unpack_from("<4sI", blob, offset)
        body = blob[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt_chunk = body
        elif chunk_id == b"data":
            data = body
            break
        offset += 8 + size + (size & 1)
    if fmt_chunk is None or data is None or len(fmt_chunk) < 16:
        raise AudioFileError(f"{path}: WAV file lacks a complete 'fmt ' or 'data' chunk (truncated or corrupt?)")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt_chunk)
    if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt_chunk) >= 26:
        tag = struct.unpack_from("<H", fmt_chunk, 24)[0]
    encoding = _wav_encoding(tag, bits)
    if encoding is None:
        return None
    try:
        fmt = AudioFormat(encoding, rate, channels)
    except CodecError as exc:
        raise AudioFileError(f"{path}: {exc}") from None
    whole = len(data) - len(data) % fmt.frame_bytes
    return EncodedAudio(fmt, data[:whole])


def _wav_encoding(tag: int, bits: int) -> Encoding | None:
    if tag == WAVE_FORMAT_MULAW and bits == 8:
        return Encoding.MULAW
    if tag == WAVE_FORMAT_ALAW and bits == 8:
        return Encoding.ALAW
    if tag == WAVE_FORMAT_PCM and bits == 8:
        return Encoding.U8
    if tag == WAVE_FORMAT_PCM and bits == 16:
        return Encoding.S16LE
    return None


def _read_soundfile(path: Path) -> EncodedAudio:
    import soundfile

    try:
        samples, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc}); use WAV or FLAC") from None
    try:
        fmt = AudioFormat(Encoding.S16LE, int(rate), int(samples.shape[1]))
    except CodecError as exc:
        raise AudioFileError(f"{path}: {exc}") from None
    return EncodedAudio(fmt, np.ascontiguousarray(samples).astype("<i2").tobytes())
