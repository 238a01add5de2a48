"""`callwarden eval` and `callwarden corpus generate`: clear errors on bad input, and a generated corpus end to end
through the real Vosk model (slow)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from evaluation.corpus_labels import load_labels
from evaluation.synth import DIGIT_WORDS
from monitor.cli.main import build_parser


def _run(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_eval_of_an_empty_directory_says_how_to_make_a_corpus(tmp_path: Path) -> None:
    code, _, err = _run(["eval", str(tmp_path)])
    assert code == 2 and "callwarden corpus generate" in err


def test_eval_of_a_missing_directory_is_exit_2(tmp_path: Path) -> None:
    code, _, err = _run(["eval", str(tmp_path / "nope")])
    assert code == 2 and "is not a directory" in err


def test_eval_names_the_bad_labels_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "call.json").write_text(
        json.dumps({"format": "callwarden-corpus-labels", "version": 1, "expect": "x"}), encoding="utf-8"
    )
    code, _, err = _run(["eval", str(tmp_path)])
    assert code == 2 and "call.json" in err and "'expect'" in err


def test_eval_names_missing_audio(tmp_path: Path) -> None:
    labels = {
        "format": "callwarden-corpus-labels",
        "version": 1,
        "scenario": "x",
        "audio": "x.wav",
        "agent_channel": 0,
        "duration": 1.0,
        "turns": [],
        "expect": [],
    }
    (tmp_path / "x.json").write_text(json.dumps(labels), encoding="utf-8")
    code, _, err = _run(["eval", str(tmp_path)])
    assert code == 2 and "x.wav" in err and "does not exist" in err


def test_eval_rejects_zero_workers(tmp_path: Path) -> None:
    code, _, err = _run(["eval", str(tmp_path), "--workers", "0"])
    assert code == 2 and "--workers" in err


def test_generate_rejects_an_unknown_digit_speaker(tmp_path: Path) -> None:
    code, _, err = _run(["corpus", "generate", str(tmp_path), "--calls", "1", "--digit-speakers", "bob"])
    assert code == 2 and "FSDD speakers" in err


def _spoken_digit_runs(directory: Path) -> set[str]:
    """Every digit string spoken in the corpus (from the labels' turn texts), for the no-leak check."""
    runs = set()
    for path in directory.glob("*.json"):
        for turn in load_labels(path).turns:
            digits = "".join(str(DIGIT_WORDS.index(w)) for w in str(turn["text"]).split() if w in DIGIT_WORDS)
            if len(digits) >= 3:
                runs.add(digits)
    return runs


@pytest.mark.slow
def test_generated_calls_evaluated_end_to_end(
    tmp_path: Path, espeak: str, shared_data: Path, vosk_model_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    fsdd, pans = shared_data / "audio" / "fsdd", shared_data / "text" / "test-pans.tsv"
    generate = ["corpus", "generate", str(corpus), "--calls", "3", "--seed", "5", "--snr", "0"]
    code, out, err = _run(
        [*generate, "--digit-speakers", "lucas,jackson", "--fsdd", str(fsdd), "--test-pans", str(pans)]
    )
    assert code == 0, err
    assert "wrote 3 calls" in out
    json_out = tmp_path / "eval.json"
    argv = ["eval", str(corpus), "--workers", "2", "--model", str(vosk_model_path), "--json-out", str(json_out)]
    code, text, err = _run(argv)
    assert code == 0, err
    result: dict[str, Any] = json.loads(json_out.read_text(encoding="utf-8"))
    labels = [load_labels(p) for p in sorted(corpus.glob("*.json"))]
    assert result["calls"] == 3 and len(result["per_call"]) == 3
    rows = {(r["rule_id"], r["outcome"]): r for r in result["rules"]}
    for (rule, outcome), row in rows.items():
        labelled = sum(1 for x in labels for e in x.expect if e.present and (e.rule_id, e.outcome) == (rule, outcome))
        assert row["tp"] + row["fn"] == labelled, (rule, outcome)
        false_alarms = sum(
            1
            for c in result["per_call"]
            for f in c["false_alarms"]
            if (f["found"]["rule_id"], f["found"]["outcome"]) == (rule, outcome)
        )
        assert row["fp"] == false_alarms
    # The clean card calls (lucas/jackson digits, the voices the small model knows) are caught in time.
    pan = rows[("pci.pan-spoken", "pan_detected")]
    assert pan["tp"] >= 1, text
    assert pan["time_error_mean"] is not None and pan["time_error_mean"] < 3.0 + 20.0
    for call in result["per_call"]:
        for hit in call["hits"]:
            if hit["time_error"] is not None:
                assert hit["time_error"] <= 3.0 + 20.0
    assert re.search(r"^pci\.pan-spoken\s+pan_detected\s+\d+", text, re.MULTILINE), text
    everything = text + json_out.read_text(encoding="utf-8")
    for digits in _spoken_digit_runs(corpus):
        assert digits not in everything
        assert " ".join(DIGIT_WORDS[int(d)] for d in digits) not in everything
