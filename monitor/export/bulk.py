"""The auditor's bulk export of a date range: calls.csv, findings.csv, one printable HTML report per call, an index
and a manifest with every file's SHA-256.

Everything comes from the store as stored — the report, the findings with their redacted evidence, the redacted
transcript, acknowledgements, consent records — nothing is recomputed. The HTML is self-contained (inline CSS, no
script, print-friendly: File → Print → PDF gives the PDF). Content that came from a call is HTML-escaped.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import html
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.store.database import Store
from monitor.store.records import CallDetail

CALL_COLUMNS = (
    "call_id", "started_utc", "ended_utc", "agent", "queue", "protocol", "language", "status", "end_reason",
    "audio_seconds", "score", "passed", "auto_failed", "worst_severity", "findings", "rules_failed",
    "rules_passed", "rules_not_applicable", "packs", "report_file",
)  # fmt: skip
FINDING_COLUMNS = (
    "call_id", "finding_id", "rule_id", "pack_id", "pack_version", "severity", "outcome", "audio_start",
    "audio_end", "raised_utc", "speaker", "evidence", "reason", "acknowledged_by",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Export:
    """What an export wrote: how many calls and findings, and the files with their SHA-256 (the manifest)."""

    directory: Path
    calls: int
    findings: int
    files: dict[str, str]


def utc(wall: float | None) -> str:
    """ISO 8601 UTC of a wall time ("" for None)."""
    if wall is None:
        return ""
    return datetime.datetime.fromtimestamp(wall, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def call_row(detail: CallDetail, report_file: str) -> dict[str, Any]:
    """One calls.csv row: identity, timing, status and the stored report's verdict."""
    call, report = detail.call, detail.report or {}
    items = report.get("items", ())
    return {
        "call_id": call.call_id, "started_utc": utc(call.started_wall), "ended_utc": utc(call.ended_wall),
        "agent": call.agent or "", "queue": call.metadata.get("queue", ""), "protocol": call.protocol,
        "language": call.language, "status": call.status, "end_reason": call.end_reason or "",
        "audio_seconds": round(call.audio_seconds, 2), "score": "" if call.score is None else call.score,
        "passed": "" if call.passed is None else str(call.passed).lower(),
        "auto_failed": str(bool(report.get("auto_failed"))).lower() if report else "",
        "worst_severity": report.get("worst_severity", ""), "findings": len(detail.findings),
        "rules_failed": ";".join(i["rule_id"] for i in items if i["status"] == "failed"),
        "rules_passed": ";".join(i["rule_id"] for i in items if i["status"] == "passed"),
        "rules_not_applicable": ";".join(i["rule_id"] for i in items if i["status"] == "not_applicable"),
        "packs": ";".join(f"{p['id']} {p['version']}" for p in report.get("packs", ())),
        "report_file": report_file,
    }  # fmt: skip


def finding_rows(detail: CallDetail) -> Iterator[dict[str, Any]]:
    """The findings.csv rows of one call (redacted evidence and reason as stored)."""
    for f in detail.findings:
        yield {
            "call_id": f.call_id, "finding_id": f.finding_id, "rule_id": f.rule_id,
            "pack_id": f.data.get("pack_id", ""), "pack_version": f.data.get("pack_version", ""),
            "severity": f.severity, "outcome": f.outcome, "audio_start": f.audio_start, "audio_end": f.audio_end,
            "raised_utc": utc(f.wall_time), "speaker": f.data.get("speaker", ""),
            "evidence": f.data.get("evidence", ""), "reason": f.data.get("reason", ""),
            "acknowledged_by": ";".join(f"{a.who} {utc(a.wall_time)}" for a in f.acknowledgements),
        }  # fmt: skip


def safe_name(call_id: str) -> str:
    """A file name for a call id (ids may hold characters a file system refuses): readable part + digest."""
    readable = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in call_id)[:80].strip(".") or "call"
    return f"{readable}-{hashlib.sha256(call_id.encode()).hexdigest()[:8]}.html"


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}h1{font-size:20px}h2{font-size:16px;margin-top:1.5em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #bbb;padding:3px 6px;text-align:left;
vertical-align:top}th{background:#eee}.failed{color:#a00;font-weight:bold}.passed{color:#060}.verdict{font-size:18px}
.muted{color:#555}@media print{body{margin:0}a{color:inherit;text-decoration:none}h2{break-after:avoid}
tr{break-inside:avoid}}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()) -> str:
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def report_html(detail: CallDetail, generated: str) -> str:
    """A printable report of one stored call: verdict, rules, findings, consent, transcript (all redacted)."""
    call, report = detail.call, detail.report or {}
    verdict = "not scored" if call.passed is None else ("PASS" if call.passed else "FAIL")
    score = "–" if call.score is None else f"{call.score:g} / 100"
    facts = [
        ("Call", call.call_id), ("Started (UTC)", utc(call.started_wall)), ("Ended (UTC)", utc(call.ended_wall)),
        ("Agent", call.agent or ""), ("Queue", call.metadata.get("queue", "")), ("Protocol", call.protocol),
        ("Language", call.language), ("Status", f"{call.status} ({call.end_reason or ''})"),
        ("Audio", f"{call.audio_seconds:.1f} s"),
        ("Packs", ", ".join(f"{p['id']} {p['version']}" for p in report.get("packs", ()))),
    ]  # fmt: skip
    items = report.get("items", ())
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Call report {_e(call.call_id)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Call report {_e(call.call_id)}</h1>",
        f'<p class="verdict {"passed" if call.passed else "failed" if call.passed is False else ""}">'
        f"{_e(verdict)} — score {_e(score)}"
        + (f" (auto-fail: {_e(', '.join(report.get('auto_fail_rules', ())))})" if report.get("auto_failed") else "")
        + "</p>",
        _table(("", ""), facts),
        "<h2>Rules</h2>",
        _table(
            ("rule", "status", "points", "severity", "summary"),
            [(i["rule_id"], i["status"], f"{i['points']:g}/{i['possible']:g}", i["severity"], i["summary"])
             for i in items],
            [i["status"] if i["status"] in ("failed", "passed") else "" for i in items],
        ),
        f"<h2>Findings ({len(detail.findings)})</h2>",
        _table(
            ("time (s)", "severity", "rule", "outcome", "speaker", "evidence (redacted)", "reason", "acknowledged"),
            [(f"{f.audio_start:.1f}", f.severity, f.rule_id, f.outcome, f.data.get("speaker", ""),
              f.data.get("evidence", ""), f.data.get("reason", ""),
              "; ".join(f"{a.who} {utc(a.wall_time)} {a.note}".strip() for a in f.acknowledgements))
             for f in detail.findings],
        ),
    ]  # fmt: skip
    if detail.consent:
        parts += [
            "<h2>Consent</h2>",
            _table(
                ("asked at (s)", "question", "answered at (s)", "answer", "classification"),
                [("" if c.disclosed_at is None else f"{c.disclosed_at:.1f}", c.disclosed_text, f"{c.answered_at:.1f}",
                  c.answer_text, c.classification) for c in detail.consent],
            ),
        ]  # fmt: skip
    parts += [
        f"<h2>Transcript (redacted, {len(detail.transcript)} lines)</h2>",
        _table(("time (s)", "speaker", "text"), [(f"{t.start:.1f}", t.speaker, t.text) for t in detail.transcript])
        if detail.transcript else '<p class="muted">No transcript stored (retention or consent withdrawal).</p>',
        f'<p class="muted">Exported {_e(generated)} from the Callwarden store; the report is the one stored at the '
        "end of the call.</p></body></html>",
    ]
    return "\n".join(parts)


def bulk_export(
    store: Store,
    directory: Path,
    *,
    since: float | None,
    until: float | None,
    agent: str | None = None,
    queue: str | None = None,
    generated: float | None = None,
) -> Export:
    """Write the export of the ended calls started in [since, until) into `directory` (created; owner-only files)."""
    moment = utc(generated if generated is not None else datetime.datetime.now(datetime.UTC).timestamp())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "calls").mkdir(exist_ok=True)
    calls_csv, findings_csv = io.StringIO(), io.StringIO()
    call_writer = csv.DictWriter(calls_csv, CALL_COLUMNS, lineterminator="\n")
    finding_writer = csv.DictWriter(findings_csv, FINDING_COLUMNS, lineterminator="\n")
    call_writer.writeheader()
    finding_writer.writeheader()
    files: dict[str, str] = {}
    index_rows: list[tuple[str, str, str, str, str]] = []
    n_calls = n_findings = 0
    for call_id in store.ended_call_ids(since=since, until=until, agent=agent):
        detail = store.get_call(call_id)
        if detail is None or (queue is not None and detail.call.metadata.get("queue", "") != queue):
            continue
        name = f"calls/{safe_name(call_id)}"
        files[name] = _write(directory / name, report_html(detail, moment))
        call_writer.writerow(call_row(detail, name))
        for row in finding_rows(detail):
            finding_writer.writerow(row)
            n_findings += 1
        verdict = "" if detail.call.passed is None else ("PASS" if detail.call.passed else "FAIL")
        score = "" if detail.call.score is None else f"{detail.call.score:g}"
        index_rows.append((call_id, utc(detail.call.started_wall), detail.call.agent or "", f"{verdict} {score}", name))
        n_calls += 1
    files["calls.csv"] = _write(directory / "calls.csv", calls_csv.getvalue())
    files["findings.csv"] = _write(directory / "findings.csv", findings_csv.getvalue())
    files["index.html"] = _write(directory / "index.html", _index(index_rows, since, until, moment))
    manifest = {
        "generated_utc": moment, "since_utc": utc(since), "until_utc": utc(until), "agent": agent, "queue": queue,
        "calls": n_calls, "findings": n_findings, "sha256": files,
    }  # fmt: skip
    _write(directory / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return Export(directory, n_calls, n_findings, files)


def _index(rows: list[tuple[str, str, str, str, str]], since: float | None, until: float | None, moment: str) -> str:
    links = "".join(
        f'<tr><td><a href="{_e(name)}">{_e(call_id)}</a></td><td>{_e(started)}</td><td>{_e(agent)}</td>'
        f"<td>{_e(verdict)}</td></tr>"
        for call_id, started, agent, verdict, name in rows
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Callwarden export</title><style>{STYLE}"
        f"</style></head><body><h1>Calls {_e(utc(since) or 'start')} – {_e(utc(until) or 'now')}</h1>"
        f"<p>{len(rows)} calls; exported {_e(moment)}. <a href=calls.csv>calls.csv</a>, "
        "<a href=findings.csv>findings.csv</a>, manifest.json (SHA-256 of every file).</p>"
        f"<table><thead><tr><th>call</th><th>started (UTC)</th><th>agent</th><th>verdict</th></tr></thead>"
        f"<tbody>{links}</tbody></table></body></html>"
    )


def _write(path: Path, text: str) -> str:
    """Write `text` owner-readable only; its SHA-256."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()
