"""G.711, PCM s16le and unsigned 8-bit decoding against reference values, round trips and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from streams.codecs import (
    ALAW_TO_PCM,
    MULAW_TO_PCM,
    AudioFormat,
    CodecError,
    Encoding,
    channel_bytes,
    decode,
    encode,
)

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # CPython's own G.711 implementation: an independent reference (removed in 3.13)
except ModuleNotFoundError:
    audioop = None  # type: ignore[assignment]
needs_audioop = pytest.mark.skipif(
    audioop is None, reason="SKIPPED LOUDLY: audioop (CPython's G.711 reference) was removed in Python 3.13"
)

ALL_CODES = bytes(range(256))
ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize(
    ("encoding", "code", "value"),
    [
        (Encoding.MULAW, 0xFF, 0),
        (Encoding.MULAW, 0x7F, 0),
        (Encoding.MULAW, 0x00, -32124),
        (Encoding.MULAW, 0x80, 32124),
        (Encoding.MULAW, 0xFE, 8),
        (Encoding.MULAW, 0x7E, -8),
        (Encoding.ALAW, 0xD5, 8),
        (Encoding.ALAW, 0x55, -8),
        (Encoding.ALAW, 0xAA, 32256),
        (Encoding.ALAW, 0x2A, -32256),
    ],
)
def test_g711_reference_values(encoding: Encoding, code: int, value: int) -> None:
    assert decode(bytes([code]), AudioFormat(encoding, 8000))[0, 0] == value


@needs_audioop
def test_g711_decode_tables_match_cpython_audioop() -> None:
    assert np.array_equal(np.frombuffer(audioop.ulaw2lin(ALL_CODES, 2), "<i2"), MULAW_TO_PCM)
    assert np.array_equal(np.frombuffer(audioop.alaw2lin(ALL_CODES, 2), "<i2"), ALAW_TO_PCM)


@needs_audioop
@pytest.mark.parametrize(("encoding", "reference"), [(Encoding.MULAW, "lin2ulaw"), (Encoding.ALAW, "lin2alaw")])
def test_g711_encoders_match_cpython_audioop_for_every_sample(encoding: Encoding, reference: str) -> None:
    assert encode(ALL_PCM, encoding) == getattr(audioop, reference)(ALL_PCM.tobytes(), 2)


def test_g711_round_trips() -> None:
    for encoding in (Encoding.MULAW, Encoding.ALAW):
        fmt = AudioFormat(encoding, 8000)
        decoded = decode(ALL_CODES, fmt)
        assert decode(encode(decoded, encoding), fmt).tolist() == decoded.tolist()
    # every A-law code survives decode→encode; mu-law has two zeros (0x7F "negative zero" re-encodes as 0xFF)
    assert encode(decode(ALL_CODES, AudioFormat(Encoding.ALAW, 8000)), Encoding.ALAW) == ALL_CODES
    expected = bytes(0xFF if c == 0x7F else c for c in ALL_CODES)
    assert encode(decode(ALL_CODES, AudioFormat(Encoding.MULAW, 8000)), Encoding.MULAW) == expected


def test_g711_quantization_error_is_bounded() -> None:
    speechlike = (np.sin(np.linspace(0, 200, 8000)) * 20000).astype(np.int16)
    for encoding in (Encoding.MULAW, Encoding.ALAW):
        back = decode(encode(speechlike, encoding), AudioFormat(encoding, 8000))[:, 0].astype(np.int32)
        rel = np.abs(back - speechlike) / np.maximum(np.abs(speechlike.astype(np.int32)), 256)
        assert rel.max() < 0.07  # 8-bit log companding: ~3 % step, never more than one segment step


def test_s16le_and_u8_known_samples_and_round_trip() -> None:
    s16 = decode(bytes([0x00, 0x80, 0xFF, 0x7F, 0x01, 0x00]), AudioFormat(Encoding.S16LE, 16000))
    assert s16[:, 0].tolist() == [-32768, 32767, 1]
    u8 = decode(bytes([0, 128, 255, 129]), AudioFormat(Encoding.U8, 8000))
    assert u8[:, 0].tolist() == [-32768, 0, 32512, 256]
    assert encode(u8, Encoding.U8) == bytes([0, 128, 255, 129])
    assert encode(ALL_PCM, Encoding.S16LE) == ALL_PCM.astype("<i2").tobytes()


def test_interleaved_channels_are_split_in_order() -> None:
    frames = np.array([[1, -1, 100], [2, -2, 200]], dtype=np.int16)
    for encoding in Encoding:
        fmt = AudioFormat(encoding, 8000, channels=3)
        pcm = decode(encode(frames, encoding), fmt)
        assert pcm.shape == (2, 3)
        single = decode(encode(frames[:, 2], encoding), AudioFormat(encoding, 8000))
        assert np.array_equal(pcm[:, 2], single[:, 0])
    assert channel_bytes(frames, 1) == np.array([-1, -2], dtype="<i2").tobytes()


def test_odd_byte_count_names_the_problem() -> None:
    with pytest.raises(CodecError, match=r"3 bytes of pcm_s16le .*\(1 stray byte"):
        decode(b"\x00\x01\x02", AudioFormat(Encoding.S16LE, 8000))
    with pytest.raises(CodecError, match=r"5 bytes of mulaw audio with 2 channel"):
        decode(b"\xff" * 5, AudioFormat(Encoding.MULAW, 8000, channels=2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"encoding": "opus", "rate": 8000}, r"unsupported audio encoding 'opus'.*mulaw"),
        ({"encoding": Encoding.MULAW, "rate": 0}, r"sample rate must be a positive integer.*got 0"),
        ({"encoding": Encoding.MULAW, "rate": 8000.5}, r"sample rate"),
        ({"encoding": Encoding.MULAW, "rate": 8000, "channels": 0}, r"channel count must be a positive.*got 0"),
    ],
)
def test_bad_formats_raise_clear_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        AudioFormat(**kwargs)  # type: ignore[arg-type]


def test_missing_channel_is_named() -> None:
    with pytest.raises(CodecError, match="channel 2 does not exist in audio with 2 channel"):
        channel_bytes(np.zeros((4, 2), dtype=np.int16), 2)


def test_format_durations() -> None:
    assert AudioFormat(Encoding.MULAW, 8000).seconds(8000) == 1.0
    assert AudioFormat(Encoding.S16LE, 16000, 2).seconds(64000) == 1.0
