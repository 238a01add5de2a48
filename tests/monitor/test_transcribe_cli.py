"""`callwarden transcribe`: readable and JSON output of a scripted stereo call, card digits never printed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.synth import Turn, render_call, write_wav
from monitor.cli.transcribe import add_parser
from rules.events import Speaker
from streams.audiofile import read_audio
from streams.codecs import decode

pytestmark = pytest.mark.slow

TEST_PAN = "4111111111111111"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def call_wav(tmp_path_factory: pytest.TempPathFactory, espeak: str, shared_data: Path) -> Path:
    """Agent (espeak-ng, channel 1) asks for the card; the customer (channel 0) reads test PAN 4111111111111111,
    spoken digit by digit by a real voice from the Free Spoken Digit Dataset (CC BY-SA 4.0, 8 kHz)."""
    agent = render_call([Turn(Speaker.AGENT, "may i have your full name and card number")], agent_channel=1, tail=0.5)
    digits = []
    for i, digit in enumerate(TEST_PAN):
        clip = read_audio(shared_data / "audio" / "fsdd" / f"{digit}_jackson_{i % 5}.wav")
        digits += [decode(clip.data, clip.fmt)[:, 0], np.zeros(800, dtype=np.int16)]
    customer = np.concatenate(digits)
    audio = np.zeros((agent.audio.shape[0] + customer.size + 8000, 2), dtype=np.int16)
    audio[: agent.audio.shape[0]] = agent.audio
    audio[agent.audio.shape[0] : agent.audio.shape[0] + customer.size, 0] = customer
    path = tmp_path_factory.mktemp("cli") / "call.wav"
    write_wav(path, audio, agent.rate)
    return path


def test_readable_transcript_has_speakers_times_and_no_card_digits(
    call_wav: Path, vosk_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(["transcribe", str(call_wav), "--agent-channel", "1", "--model", str(vosk_model_path)])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(" agent " in line and "name" in line for line in lines), lines
    assert any(" customer " in line for line in lines), lines
    assert lines[0].startswith("[") and "–" in lines[0]
    out = "\n".join(lines)
    assert "4111" not in out and "one one one one" not in out
    assert "[card" in out or "[number]" in out


def test_json_lines_are_events_with_redacted_words(
    call_wav: Path, vosk_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parse(["transcribe", str(call_wav), "--json", "--agent-channel", "1", "--model", str(vosk_model_path)])
    assert args.func(args) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["type"] == "CallStarted" and records[-1]["type"] == "CallEnded"
    assert {"Utterance", "AudioTick"} <= {r["type"] for r in records}
    for record in records:
        if record["type"] == "Utterance":
            assert "one one one one" not in record["text"]
            spoken = [w["text"] for w in record["words"]]
            assert " ".join(spoken).count("one") < 4, spoken


def test_unreadable_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["transcribe", str(tmp_path / "missing.wav")])
    assert args.func(args) == 2
    assert "missing.wav does not exist" in capsys.readouterr().err
