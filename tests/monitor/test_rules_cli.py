"""`callwarden rules test|check` and `callwarden replay` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli.main import main

LOG = Path(__file__).resolve().parents[1] / "rules" / "data" / "replay-call.jsonl"


def test_rules_check_and_test_pass_on_builtin_packs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    assert "ok:" in capsys.readouterr().out
    assert main(["rules", "test"]) == 0
    assert " 0 failed" in capsys.readouterr().out


def test_rules_check_lists_problems_with_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("pack: bad\nversion: 1.0\nrules: []\n")
    assert main(["rules", "check", str(tmp_path), "--no-builtin"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.yaml'}:2: version:" in err and ":3: rules: expected at least one item" in err


def test_replay_json_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(LOG), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    assert report["call_id"] == "replay-001" and report["final"] is True
    outcomes = {f["outcome"] for f in report["findings"]}
    assert {"not_said", "late", "forbidden_said", "consent_withdrawn", "access_requested"} <= outcomes


def test_replay_reports_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "bad.jsonl"
    log.write_text('{"type": "audio_tick", "call_id": "c", "at": "soon"}\n')
    assert main(["replay", str(log)]) == 2
    assert "line 1: field 'at' must be a number of seconds" in capsys.readouterr().err


def test_rules_test_covers_the_opt_in_packs_and_names_one_with_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check"]) == 0
    listed = capsys.readouterr().out
    assert "tcpa 1.0.0" in listed and "garante-it 1.0.0" in listed
    assert main(["rules", "test", "--no-builtin", "--pack", "fdcpa"]) == 0
    out = capsys.readouterr().out
    assert "PASS fdcpa.mini-miranda" in out and "tcpa." not in out and " 0 failed" in out
    assert main(["rules", "check", "--pack", "gdpr-uk"]) == 2
    assert "no opt-in pack 'gdpr-uk'" in capsys.readouterr().err


def test_replay_with_an_opt_in_pack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(LOG), "--json", "--pack", "tcpa"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[0])
    assert {"tcpa.do-not-call-request", "tcpa.caller-identification"} <= {i["rule_id"] for i in report["items"]}
