"""`callwarden backtest`: stored calls re-scored with candidate packs, the diff against their stored outcomes.

The calls here are stored as the live session stores them (the engine fed, one CallRedaction for transcript and
event log, accepted events only: `session_store`), from scripted transcripts with known timings; the end-to-end
run through the live service with Vosk is tests/monitor/test_backtest_service.py and bench/backtest.py."""

from __future__ import annotations

import argparse
import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.backtest.rescore import StoredCall, rescore
from monitor.backtest.runner import PackSource, Selection, backtest, candidate_ruleset
from monitor.cli import backtest as backtest_cli
from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from rules.engine import CallMonitor
from rules.eventlog import loads_events
from rules.packs import BUILTIN_PACKS_DIR, PackError, load_packs
from rules.transcripts import transcript_events
from tests.monitor.store_helpers import session_store

KEYS = DataKeys(b"b" * 32)
DAY = 86400.0
T0 = 1_764_547_200.0  # 2025-12-01T00:00:00Z
RULESET = load_packs()
DISCLOSURE = "this call may be recorded for quality and training purposes."


def script(disclosure_at: float | None, card: bool = False) -> list[str]:
    lines = ["agent: good morning, thank you for calling acme bank."]
    if disclosure_at is not None:
        lines.append(f"[{disclosure_at}] agent: {DISCLOSURE}")
    lines += ["customer: hi, i would like to pay my bill.", "agent: sure. please read me the card number."]
    if card:
        lines.append("customer: it is four one one one one one one one one one one one one one one one")
    lines.append("agent: thank you. is there anything else? goodbye.")
    return lines


def status(report: dict[str, object], rule_id: str) -> str:
    items = report["items"]
    assert isinstance(items, list)
    return next(str(i["status"]) for i in items if i["rule_id"] == rule_id)


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    """Six stored calls: disclosure early (2 s), mid (12 s: passes at 30 s, fails at 8 s), missing; two read a
    card number (pci fails)."""
    db = Store.open(tmp_path / "callwarden.sqlite3", KEYS)
    calls = {
        "early": script(2.0),
        "mid": script(12.0),
        "mid-card": script(12.0, card=True),
        "missing": script(None),
        "early-card": script(2.0, card=True),
        "late": script(40.0),
    }
    for n, (call_id, lines) in enumerate(calls.items()):
        agent, queue = f"agent-{n % 2}", ("billing", "sales")[n % 3 == 0]
        session_store(db, call_id, transcript_events(call_id, lines), started_wall=T0 + n * DAY, agent=agent,
                      queue=queue)  # fmt: skip
    yield db
    db.close()


def window_packs(directory: Path, window: int) -> Path:
    directory.mkdir(exist_ok=True)
    text = (BUILTIN_PACKS_DIR / "recording-disclosure.yaml").read_text()
    assert "      window_seconds: 30\n" in text
    changed = text.replace("window_seconds: 30", f"window_seconds: {window}")
    (directory / "recording-disclosure.yaml").write_text(changed)
    return directory


def test_the_stored_calls_are_what_the_scenarios_say(store: Store) -> None:
    reports = {c: store.get_report(c) for c in store.ended_call_ids()}
    assert {c: status(r, "disclosure.recording") for c, r in reports.items() if r} == {
        "early": "passed", "mid": "passed", "mid-card": "passed", "missing": "failed", "early-card": "passed",
        "late": "failed",
    }  # fmt: skip
    pci_failed = {c for c, r in reports.items() if r and status(r, "pci.pan-spoken") == "failed"}
    assert pci_failed == {"mid-card", "early-card"}


def test_unchanged_packs_change_nothing_and_carry_the_pci_findings(store: Store) -> None:
    result = backtest(store, PackSource(), Selection())
    assert result["calls"] == 6 and result["skipped"] == {}
    assert result["changed_calls"] == [] and result["score_changes"] == []
    assert all(not e["newly_failing"] and not e["newly_passing"] and not e["other_changes"]
               for e in result["rules"].values())  # fmt: skip
    assert {r for r, e in result["rules"].items() if e["carried"]} == set(result["carried_rules"])
    assert "pci.pan-spoken" in result["carried_rules"]
    assert all(e["unchanged"] == 6 for e in result["rules"].values())


def test_carrying_is_what_keeps_the_pci_verdict(store: Store) -> None:
    """The stored log holds no card digits: replayed without the carry, the card call would pass pci."""
    lines = store.event_log("mid-card")
    assert lines is not None
    assert "four one one one" not in "\n".join(lines)
    monitor = CallMonitor(RULESET, call_id="mid-card")
    for event in loads_events("\n".join(lines)):
        monitor.feed(event)
    assert status(monitor.report(), "pci.pan-spoken") == "passed"  # what a plain replay would say
    stored = store.get_report("mid-card")
    summary = store.get_call_summary("mid-card")
    assert stored is not None and summary is not None
    call = StoredCall("mid-card", "en", summary.started_wall, "agent-0", "billing", stored, tuple(lines))
    report, outcome = rescore(call, RULESET)
    assert outcome.statuses["pci.pan-spoken"] == "failed"
    item = next(i for i in report["items"] if i["rule_id"] == "pci.pan-spoken")
    assert item["carried"] is True
    carried_ids = {f["finding_id"] for f in report["findings"] if f["rule_id"] == "pci.pan-spoken"}
    assert carried_ids == {f["finding_id"] for f in stored["findings"] if f["rule_id"] == "pci.pan-spoken"}
    assert report["score"] == stored["score"] and report["passed"] == stored["passed"]


def test_a_lowered_window_names_exactly_the_calls_it_fails(store: Store, tmp_path: Path) -> None:
    source = PackSource(window_packs(tmp_path / "packs", 8))
    result = backtest(store, source, Selection())
    entry = result["rules"]["disclosure.recording"]
    assert sorted(entry["newly_failing"]) == ["mid", "mid-card"]
    assert entry["newly_passing"] == [] and entry["other_changes"] == [] and entry["unchanged"] == 4
    assert result["changed_calls"] == ["mid", "mid-card"]
    assert result["calls_newly_failing"] == ["mid"]  # mid-card failed already (pci, auto-fail)
    assert {c["call_id"] for c in result["score_changes"]} == {"mid"}
    assert result["rules"]["pci.pan-spoken"]["unchanged"] == 6
    # The other direction: a wider window than the 40 s of "late" makes it pass.
    wider = backtest(store, PackSource(window_packs(tmp_path / "wide", 60)), Selection())
    assert wider["rules"]["disclosure.recording"]["newly_passing"] == ["late"]
    assert wider["changed_calls"] == ["late"]


def test_workers_give_the_same_diff(store: Store, tmp_path: Path) -> None:
    source = PackSource(window_packs(tmp_path / "packs", 8))
    one = backtest(store, source, Selection(), workers=1)
    two = backtest(store, source, Selection(), workers=2)
    timing = ("workers", "read_seconds", "rescore_seconds", "calls_per_second")
    assert {k: v for k, v in one.items() if k not in timing} == {k: v for k, v in two.items() if k not in timing}


def test_filters_select_by_time_agent_and_queue(store: Store) -> None:
    def called(selection: Selection) -> int:
        return int(backtest(store, PackSource(), selection)["calls"])

    assert called(Selection(since=T0 + DAY, until=T0 + 3 * DAY)) == 2
    assert called(Selection(agent="agent-1")) == 3
    assert called(Selection(queue="sales")) == 2  # calls 0 and 3
    assert called(Selection(queue="sales", agent="agent-1")) == 1


def test_a_rule_id_in_two_packs_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "dup"
    directory.mkdir()
    text = (BUILTIN_PACKS_DIR / "recording-disclosure.yaml").read_text()
    (directory / "copy.yaml").write_text(text.replace("pack: recording-disclosure", "pack: my-disclosure", 1))
    with pytest.raises(PackError, match=r"disclosure\.recording"):
        candidate_ruleset(PackSource(directory))


def cli_args(data_dir: Path, **changes: object) -> argparse.Namespace:
    args = {"rules": None, "no_builtin": False, "pack": None, "since": None, "until": None, "queue": None,
            "agent": None, "workers": 1, "json": None, "markdown": None, "config": None,
            "data_dir": data_dir}  # fmt: skip
    args.update(changes)
    return argparse.Namespace(**args)


def test_cli_writes_json_and_markdown_and_exits_1_on_changes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLWARDEN_DATA_KEY", base64.b64encode(b"b" * 32).decode())
    data = tmp_path
    out, err = io.StringIO(), io.StringIO()
    assert backtest_cli.run(cli_args(data), out, err) == 0, err.getvalue()
    assert "0 changed" in out.getvalue() and "(carried)" in out.getvalue()
    packs = window_packs(tmp_path / "packs", 8)
    args = cli_args(data, rules=packs, json=tmp_path / "d.json", markdown=tmp_path / "d.md")
    out, err = io.StringIO(), io.StringIO()
    assert backtest_cli.run(args, out, err) == 1, err.getvalue()
    result = json.loads((tmp_path / "d.json").read_text())
    assert result["changed_calls"] == ["mid", "mid-card"]
    markdown = (tmp_path / "d.md").read_text()
    assert "| `disclosure.recording` | `mid`, `mid-card` | – | – | 4 |" in markdown
    assert markdown == out.getvalue()
    assert (tmp_path / "d.json").stat().st_mode & 0o077 == 0
    assert [e.action for e in store.audit_entries(action="backtest")] == ["backtest", "backtest"]


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    err = io.StringIO()
    assert backtest_cli.run(cli_args(tmp_path, rules=tmp_path / "nope"), io.StringIO(), err) == 2
    assert "--rules" in err.getvalue() and "not a directory" in err.getvalue()
    err = io.StringIO()
    assert backtest_cli.run(cli_args(tmp_path / "empty"), io.StringIO(), err) == 2
    assert "no database" in err.getvalue()
    with pytest.raises(argparse.ArgumentTypeError, match="ISO date"):
        backtest_cli._when("yesterday")
    assert backtest_cli._when("2025-12-01") == T0
