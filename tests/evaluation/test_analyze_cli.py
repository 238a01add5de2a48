"""`callwarden analyze` on labelled synthesized calls through the real Vosk model (a representative subset of the
corpus), the JSON report, the event log that `callwarden replay` reproduces, and clear errors on bad input."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import pytest

from evaluation.analyze import CallAnalysis, analyze_files, offline_config
from evaluation.corpus import write_corpus
from evaluation.corpus_labels import CallLabels, check_findings, load_labels
from monitor.cli.analyze import add_parser
from monitor.cli.rules import add_parser as add_rules_parser
from rules.packs import load_packs
from streams.transcriber import AsrConfig

pytestmark = pytest.mark.slow

SUBSET = ("compliant", "consent-refused", "pan-mastercard", "cvv", "near-order")
"""One per family: clean call, consent, card number, security code (answer transcribed before its prompt), near miss."""


def _holds_number(text: str, digits: str) -> bool:
    """`digits` as a number of its own in `text`, not inside another number such as a confidence 0.707375."""
    return re.search(rf"(?<![\d.]){digits}(?!\d)", text) is not None


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    add_parser(subparsers)
    add_rules_parser(subparsers)
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, espeak: str, shared_data: Path) -> list[CallLabels]:
    directory = tmp_path_factory.mktemp("corpus")
    paths = write_corpus(directory, shared_data / "audio" / "fsdd", names=SUBSET)
    return [load_labels(p) for p in paths]


@pytest.fixture(scope="module")
def analyses(
    corpus: list[CallLabels], tmp_path_factory: pytest.TempPathFactory, vosk_model_path: Path
) -> dict[str, tuple[CallLabels, CallAnalysis, Path]]:
    directory = tmp_path_factory.getbasetemp()
    wavs = [next(directory.rglob(label.audio)) for label in corpus]
    config = offline_config(AsrConfig(model_path=str(vosk_model_path)))
    results = analyze_files(wavs, load_packs(), agent_channel=0, config=config)
    return {label.scenario: (label, result, wav) for label, result, wav in zip(corpus, results, wavs, strict=True)}


@pytest.mark.parametrize("scenario", SUBSET)
def test_scenario_gives_its_labelled_findings(
    scenario: str, analyses: dict[str, tuple[CallLabels, CallAnalysis, Path]]
) -> None:
    labels, analysis, _wav = analyses[scenario]
    checks = check_findings(labels, analysis.report["findings"])
    transcript = "\n".join(f"{line.start:.1f} {line.speaker.value}: {line.text}" for line in analysis.transcript)
    assert [c.expected.describe() for c in checks if not c.passed] == [], transcript
    assert analysis.report["final"] is True


def test_the_digit_check_tells_a_spoken_code_from_digits_inside_other_numbers() -> None:
    assert _holds_number("code [number] 737", "737") and _holds_number('"text":"737 is it"', "737")
    assert not _holds_number('"conf":0.707375', "737") and not _holds_number('"end":21.737', "737")
    assert not _holds_number("17370", "737")


def test_no_card_or_code_digits_in_transcript_or_report(
    analyses: dict[str, tuple[CallLabels, CallAnalysis, Path]],
) -> None:
    for scenario in ("pan-mastercard", "cvv"):
        _labels, analysis, _wav = analyses[scenario]
        shown = json.dumps(analysis.report) + "\n".join(line.text for line in analysis.transcript)
        assert not _holds_number(shown, "5555") and "five five five five" not in shown
        assert "seven three seven" not in shown and not _holds_number(shown, "737")


def test_cli_json_report_and_event_log_replay_to_the_same_findings(
    analyses: dict[str, tuple[CallLabels, CallAnalysis, Path]], vosk_model_path: Path, tmp_path: Path
) -> None:
    _labels, _analysis, wav = analyses["cvv"]
    events = tmp_path / "cvv.jsonl"
    args = _parse(["analyze", str(wav), "--json", "--events-out", str(events), "--model", str(vosk_model_path)])
    out, err = io.StringIO(), io.StringIO()
    assert args.func(args, out, err) == 0
    report = json.loads(out.getvalue())
    assert report["report_version"] == 1 and report["call_id"] == "cvv" and report["auto_failed"] is True
    assert "cvv_detected" in {f["outcome"] for f in report["findings"]}
    assert events.stat().st_mode & 0o077 == 0  # transcripts: owner only
    logged = events.read_text()
    assert "seven three seven" not in logged and not _holds_number(logged, "737")  # card data never leaves
    replay = _parse(["replay", str(events), "--json"])
    replayed = io.StringIO()
    assert replay.func(replay, replayed, io.StringIO()) == 0
    again = json.loads(replayed.getvalue())

    def non_pci(findings: list[dict[str, object]]) -> list[tuple[object, ...]]:
        # the redacted log cannot re-detect card data; every other finding replays identically
        return [(f["finding_id"], f["outcome"], f["start"]) for f in findings if f["pack_id"] != "pci"]

    assert non_pci(again["findings"]) == non_pci(report["findings"])
    assert non_pci(again["findings"])


def test_cli_text_summary_lists_findings_score_and_rules(
    analyses: dict[str, tuple[CallLabels, CallAnalysis, Path]], vosk_model_path: Path
) -> None:
    _labels, _analysis, wav = analyses["pan-mastercard"]
    args = _parse(["analyze", str(wav), "--model", str(vosk_model_path)])
    out = io.StringIO()
    assert args.func(args, out, io.StringIO()) == 0
    text = out.getvalue()
    assert "score 0.0 / 100 — FAIL (auto-fail: pci.pan-spoken)" in text
    assert "CRITICAL pci.pan-spoken → pan_detected customer:" in text and "[card ••••4444]" in text
    assert "FAIL pci.pan-spoken" in text and "PASS disclosure.recording" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "missing.wav"], "does not exist"),
        (["analyze", "{wav}", "--rules", "no-such-dir"], "not a directory"),
        (["analyze", "{wav}", "--events-out", "no/such/dir/e.jsonl"], "does not exist"),
        (["analyze", "{wav}", "--no-builtin"], "no rules loaded"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    argv: list[str], message: str, analyses: dict[str, tuple[CallLabels, CallAnalysis, Path]]
) -> None:
    _labels, _analysis, wav = analyses["near-order"]
    args = _parse([a.format(wav=wav) for a in argv])
    err = io.StringIO()
    assert args.func(args, io.StringIO(), err) == 2
    assert err.getvalue().startswith("callwarden analyze: ") and message in err.getvalue()
