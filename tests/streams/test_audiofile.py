"""Audio files: the shared odd formats (8-bit unsigned, mu-law, 24-bit stereo FLAC) read as wire bytes; bad files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

from streams.audiofile import AudioFileError, EncodedAudio, read_audio
from streams.codecs import AudioFormat, Encoding, decode


def _soundfile_int16(path: Path) -> np.ndarray:
    samples, _ = soundfile.read(str(path), dtype="int16", always_2d=True)
    return np.asarray(samples)


@pytest.mark.parametrize(
    ("name", "encoding", "rate", "channels"),
    [
        (
            "acted-call-auto-repair-8bit-mono.wav",
            Encoding.U8,
            8000,
            1,
        ),  # aws-samples/amazon-transcribe-post-call-analytics
        ("whatstheweatherlike-mulaw.wav", Encoding.MULAW, 16000, 1),  # Azure-Samples/cognitive-services-speech-sdk
        ("tiny-stereo-16k.wav", Encoding.S16LE, 16000, 2),  # same repository
        ("jfk.flac", Encoding.S16LE, 44100, 2),  # openai/whisper tests/jfk.flac (24-bit → s16 via soundfile)
    ],
)
def test_shared_files_decode_like_libsndfile(
    shared_data: Path, name: str, encoding: Encoding, rate: int, channels: int
) -> None:
    path = shared_data / "audio" / name
    audio = read_audio(path)
    assert audio.fmt == AudioFormat(encoding, rate, channels)
    ours = decode(audio.data, audio.fmt)
    assert np.array_equal(ours, _soundfile_int16(path))


def test_chunks_are_whole_frames_covering_everything(shared_data: Path) -> None:
    audio = read_audio(shared_data / "audio" / "tiny-stereo-16k.wav")
    chunks = list(audio.chunks(0.02))
    assert all(len(c) == 320 * 4 for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 320 * 4 and len(chunks[-1]) % 4 == 0
    assert b"".join(chunks) == audio.data
    assert audio.duration == pytest.approx(27513 / 16000)


def test_missing_and_garbage_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="does not exist"):
        read_audio(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all")
    with pytest.raises(AudioFileError, match=r"junk\.wav: not a readable audio file"):
        read_audio(junk)


def _wav(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, with_data: bool = True) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if with_data:
        body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_hand_made_alaw_wav_keeps_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "alaw.wav"
    path.write_bytes(_wav(6, 2, 8000, 8, bytes([0xD5, 0x55, 0xD5, 0x55])))
    audio = read_audio(path)
    assert audio == EncodedAudio(AudioFormat(Encoding.ALAW, 8000, 2), bytes([0xD5, 0x55, 0xD5, 0x55]))
    assert decode(audio.data, audio.fmt).tolist() == [[8, -8], [8, -8]]


def test_wav_with_zero_rate_or_channels_or_no_data_is_rejected(tmp_path: Path) -> None:
    cases = {
        "rate0.wav": (_wav(1, 1, 0, 16, b"\0\0"), "sample rate must be a positive integer"),
        "chan0.wav": (_wav(7, 0, 8000, 8, b"\0"), "channel count must be a positive integer"),
        "nodata.wav": (_wav(1, 1, 8000, 16, b"", with_data=False), "lacks a complete 'fmt ' or 'data' chunk"),
    }
    for name, (blob, message) in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(AudioFileError, match=message) as err:
            read_audio(tmp_path / name)
        assert name in str(err.value)


def test_bad_chunk_length() -> None:
    with pytest.raises(AudioFileError, match="chunk length must be positive"):
        list(EncodedAudio(AudioFormat(Encoding.MULAW, 8000), b"\xff").chunks(0))
