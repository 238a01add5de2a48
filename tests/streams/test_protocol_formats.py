"""Absurd audio formats are refused at the edge of every protocol (1003 with a reason), and never reach Vosk."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rules.events import Speaker
from streams.codecs import ASR_SAMPLE_RATES, CodecError
from streams.protocols import AudioForkProtocol, Close, RawProtocol, TwilioProtocol
from streams.protocols.base import Output
from streams.transcriber import LegIdentity

ABSURD_RATES: tuple[Any, ...] = (0, 1, 2, 7, 8001, 64000, 10**9, -8000, 8000.5, "8000", True, None)


def _close(outputs: list[Output]) -> Close:
    closes = [o for o in outputs if isinstance(o, Close)]
    assert closes, f"no Close in {outputs}"
    return closes[-1]


def _twilio_start(media_format: dict[str, Any]) -> list[Output]:
    proto = TwilioProtocol()
    proto.receive_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    start = {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
             "mediaFormat": media_format}  # fmt: skip
    return proto.receive_text(json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": "MZ1"}))


@pytest.mark.parametrize("rate", [r for r in ABSURD_RATES if r is not None])
def test_twilio_refuses_absurd_sample_rates(rate: Any) -> None:
    close = _close(_twilio_start({"encoding": "audio/x-mulaw", "sampleRate": rate, "channels": 1}))
    assert close.code == 1003 and "sample rate" in close.reason and "8000" in close.reason, close


@pytest.mark.parametrize("channels", [0, 2, 65])
def test_twilio_refuses_channel_counts(channels: int) -> None:
    close = _close(_twilio_start({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": channels}))
    assert close.code == 1003 and "channels" in close.reason


def test_twilio_refuses_unknown_encodings() -> None:
    close = _close(_twilio_start({"encoding": "audio/opus", "sampleRate": 8000, "channels": 1}))
    assert close.code == 1003 and "encoding" in close.reason


def _raw_start(**changes: Any) -> list[Output]:
    start: dict[str, Any] = {"type": "start", "call_id": "raw-1", "encoding": "pcm_s16le", "sample_rate": 8000,
                             "channels": [{"role": "agent"}]}  # fmt: skip
    start.update(changes)
    return RawProtocol().receive_text(json.dumps(start))


@pytest.mark.parametrize("rate", ABSURD_RATES)
def test_raw_refuses_absurd_sample_rates(rate: Any) -> None:
    close = _close(_raw_start(sample_rate=rate))
    assert close.code == 1003 and "sample rate" in close.reason, close


@pytest.mark.parametrize("channels", [[], [{"role": "agent"}] * 65, "two", None])
def test_raw_refuses_channel_counts(channels: Any) -> None:
    close = _close(_raw_start(channels=channels))
    assert close.code == 1007 and "channels" in close.reason


def test_raw_refuses_unknown_encodings() -> None:
    close = _close(_raw_start(encoding="opus"))
    assert close.code == 1003 and "encoding" in close.reason


@pytest.mark.parametrize("rate", ABSURD_RATES)
def test_audiofork_refuses_absurd_sample_rates_in_metadata(rate: Any) -> None:
    proto = AudioForkProtocol(subprotocol="audio.drachtio.org")
    outputs = proto.receive_text(json.dumps({"callId": "fork-1", "sampleRate": rate}))
    if rate is None:  # absent: the configured default (8000) applies
        assert not any(isinstance(o, Close) for o in outputs)
        return
    close = _close(outputs)
    assert close.code == 1003 and "sample rate" in close.reason, close


def test_audiofork_refuses_an_absurd_configured_rate() -> None:
    with pytest.raises(CodecError, match="sample rate 1 Hz"):
        AudioForkProtocol(subprotocol="audio.drachtio.org", sample_rate=1)


@pytest.mark.parametrize("rate", ASR_SAMPLE_RATES)
def test_supported_rates_open_a_call(rate: int) -> None:
    outputs = _raw_start(sample_rate=rate)
    assert not any(isinstance(o, Close) for o in outputs), outputs


@pytest.mark.parametrize("rate", [1, 2, 7, 8001, 10**9])
def test_no_recognizer_is_made_for_an_absurd_rate(rate: int) -> None:
    """Defence in depth: whatever an edge lets through, a leg recognizer is never built at such a rate."""
    with pytest.raises(CodecError, match="unsupported"):
        LegIdentity("call-1", 0, Speaker.AGENT, rate)
