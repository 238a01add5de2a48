"""Acceptance 4 of issue #20: the auditor's bulk export of a month of calls opens (CSV parsed, every HTML report
rendered by Chromium and printed to PDF) and matches the stored reports, findings and transcripts."""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import time
from pathlib import Path

import pytest

from monitor.cli import export as export_cli
from monitor.export.bulk import bulk_export, safe_name
from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from rules.transcripts import transcript_events
from tests.monitor.dashboard_harness import chromium_browser
from tests.monitor.ingest_support import running_service
from tests.monitor.store_helpers import session_store

KEY = b"x" * 32
DAY = 86400.0
NOV_20 = 1_763_596_800.0  # 2025-11-20T00:00:00Z
DEC_1, JAN_1 = 1_764_547_200.0, 1_767_225_600.0  # the month exported: December 2025
SCRIPTS = (
    ["agent: thank you for calling acme bank. this call may be recorded for quality and training purposes.",
     "customer: hi, i would like to pay my bill.", "agent: sure. please read me the card number.",
     "customer: it is four one one one one one one one one one one one one one one one",
     "agent: thank you, goodbye."],
    ["agent: good morning, thank you for calling acme bank.", "customer: hi, i want to change my address.",
     "agent: this call may be recorded. what is the new street?", "customer: twelve high street."],
    ["agent: hello this is the travel desk.", "customer: i'd like to book a hotel in portugal for <b>june</b>.",
     "agent: of course, anything else?", "customer: no thanks, bye."],
)  # fmt: skip


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    """45 calls, one every day from 20 November 2025 to 3 January 2026 at 10:00 UTC (31 in December)."""
    db = Store.open(tmp_path / "data" / "callwarden.sqlite3", DataKeys(KEY))
    for n in range(45):
        call_id = f"call-{n:02d}" + ("/x" if n == 20 else "")  # an id a file system would refuse as a name
        lines = SCRIPTS[n % len(SCRIPTS)]
        session_store(db, call_id, transcript_events(call_id, lines), started_wall=NOV_20 + n * DAY + 36000,
                      agent=f"agent-{n % 3}", queue=("billing", "travel")[n % 2])  # fmt: skip
    first = db.get_call("call-12")
    assert first is not None and first.findings
    db.acknowledge(first.findings[0].finding_id, "sup-ann", note="reviewed with the agent")
    return db


def test_a_month_exported_opens_and_matches_the_store(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "export"
    done = bulk_export(store, out, since=DEC_1, until=JAN_1)
    december = store.ended_call_ids(since=DEC_1, until=JAN_1)
    assert done.calls == len(december) == 31
    # calls.csv: one row per call of the month, each matching its stored report.
    with (out / "calls.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["call_id"] for r in rows] == december
    for row in rows:
        report = store.get_report(row["call_id"])
        summary = store.get_call_summary(row["call_id"])
        assert report is not None and summary is not None
        assert float(row["score"]) == report["score"] and row["passed"] == str(report["passed"]).lower()
        failed = [i["rule_id"] for i in report["items"] if i["status"] == "failed"]
        assert row["rules_failed"].split(";") == failed if failed else row["rules_failed"] == ""
        assert row["agent"] == summary.agent and row["queue"] == summary.metadata["queue"]
        assert row["started_utc"].startswith("2025-12-") and row["started_utc"].endswith("T10:00:00Z")
        assert row["report_file"] == f"calls/{safe_name(row['call_id'])}"
    # findings.csv: exactly the stored findings of those calls, with their redacted evidence and the ack.
    with (out / "findings.csv").open(newline="") as f:
        findings = list(csv.DictReader(f))
    stored = {(f.call_id, f.finding_id): f for c in december for f in (store.get_call(c) or _missing()).findings}
    assert {(r["call_id"], r["finding_id"]) for r in findings} == set(stored) and len(findings) == done.findings
    for r in findings:
        s = stored[(r["call_id"], r["finding_id"])]
        assert (r["rule_id"], r["severity"], r["outcome"], r["evidence"]) == (
            s.rule_id, s.severity, s.outcome, s.data["evidence"])  # fmt: skip
    assert [r["acknowledged_by"].split()[0] for r in findings if r["acknowledged_by"]] == ["sup-ann"]
    assert not [r for r in findings if "4111" in r["evidence"] or "one one one one" in r["evidence"]]
    # manifest: every file's SHA-256.
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["calls"] == 31 and manifest["since_utc"] == "2025-12-01T00:00:00Z"
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert len(manifest["sha256"]) == 31 + 3
    # Every HTML report opens in Chromium and shows the stored verdict, rules, findings and transcript.
    with chromium_browser() as browser:
        page = browser.new_page()
        page.goto((out / "index.html").as_uri())
        assert page.locator("tbody tr").count() == 31
        for row in rows:
            report = store.get_report(row["call_id"])
            detail = store.get_call(row["call_id"])
            assert report is not None and detail is not None
            page.goto((out / row["report_file"]).as_uri())
            verdict = page.locator(".verdict").inner_text()
            assert verdict.startswith("PASS" if report["passed"] else "FAIL")
            assert f"score {report['score']:g}" in verdict
            shown = page.locator("table").nth(1).locator("tbody tr").all_inner_texts()
            assert [tuple(t.split("\t")[:2]) for t in shown] == [(i["rule_id"], i["status"]) for i in report["items"]]
            rendered = page.locator("body").inner_text()
            assert all(t.text in rendered for t in detail.transcript)
            assert page.locator("table").nth(2).locator("tbody tr").count() == len(detail.findings)
        page.goto((out / rows[0]["report_file"]).as_uri())
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000
        page.goto((out / "calls" / safe_name("call-20/x")).as_uri())  # the odd id got a safe file of its own
        assert "call-20/x" in page.locator("h1").inner_text()
        travel = next(r for r in rows if "portugal" in (out / r["report_file"]).read_text())
        page.goto((out / travel["report_file"]).as_uri())
        assert page.locator("b").count() == 0  # call content is escaped, never markup


def _missing() -> object:
    raise AssertionError("a December call vanished from the store")


def test_cli_exports_audits_and_refuses_bad_input(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLWARDEN_DATA_KEY", base64.b64encode(KEY).decode())
    args = argparse.Namespace(since=DEC_1, until=DEC_1 + 7 * DAY, agent="agent-0", queue=None,
                              out=tmp_path / "week", config=None, data_dir=tmp_path / "data")  # fmt: skip
    assert export_cli.run(args) == 0
    with (tmp_path / "week" / "calls.csv").open(newline="") as f:
        exported = [r["call_id"] for r in csv.DictReader(f)]
    assert exported and all(store.get_call_summary(c).agent == "agent-0" for c in exported)  # type: ignore[union-attr]
    (entry,) = store.audit_entries(action="bulk_export")
    assert entry.detail["calls"] == len(exported) and entry.actor.startswith("cli:")
    assert export_cli.run(args) == 2  # the directory is not empty any more: never overwritten
    assert export_cli.run(argparse.Namespace(**{**vars(args), "out": tmp_path / "x", "until": DEC_1})) == 2


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_reports_api_serves_the_month_as_csv_and_json(tmp_path: Path, vosk_model_path: Path) -> None:
    data = tmp_path / "data"
    first = time.time() - 40 * DAY  # recent: the service's retention purge must not touch them
    since, until = first + 5.5 * DAY, first + 36.5 * DAY  # a month: 31 of the 40 calls
    with Store.open(data / "callwarden.sqlite3") as db:  # the service's own key file
        for n in range(40):
            call_id = f"api-{n:02d}"
            session_store(db, call_id, transcript_events(call_id, SCRIPTS[n % 3]), started_wall=first + n * DAY,
                          agent=f"agent-{n % 3}", queue="billing")  # fmt: skip
        december = db.ended_call_ids(since=since, until=until)
        assert len(december) == 31
        reports = {c: db.get_report(c) for c in december}
    async with running_service(data, vosk_model_path) as svc:
        status, body = await svc.get(f"/api/reports?since={since}&until={until}&format=csv")
        assert status == 200, body
        rows = list(csv.DictReader(body.splitlines()))
        assert [r["call_id"] for r in rows] == december
        assert all(float(r["score"]) == reports[r["call_id"]]["score"] for r in rows)  # type: ignore[index]
        listed = await svc.get_json(f"/api/reports?since={since}&until={until}&agent=agent-1")
        assert {c["call_id"] for c in listed["calls"]} == {c for c in december if int(c[-2:]) % 3 == 1}
        for c in listed["calls"]:
            assert c["report"] == reports[c["call_id"]], (c["report"], reports[c["call_id"]])
        status, body = await svc.get(f"/api/reports?since={until}&until={since}")
        assert status == 400 and "since" in body
        audit = await svc.get_json("/api/audit?action=bulk_export")
        assert [e["detail"]["calls"] for e in audit["entries"]] == [len(listed["calls"]), len(december)]
