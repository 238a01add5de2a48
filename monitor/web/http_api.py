"""The service's plain HTTP (GET) surface: health, readiness, metrics, the calls and audit API, the dashboard's files.

Everything but /healthz, /readyz and /metrics needs credentials when access is configured (HTTP Basic or Bearer,
monitor/access/users.py); GET never changes state (erasure and acks go over /live), so GETs need no CSRF token.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import logging
import math
import mimetypes
import time
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from monitor.access.hashing import refusal_delay
from monitor.access.users import PUBLIC_PATHS, Principal
from monitor.export.bulk import CALL_COLUMNS, call_row, safe_name
from monitor.store.coaching import CSV_COLUMNS, MAX_BUCKETS, csv_rows
from monitor.store.database import Store
from monitor.store.records import StoreError, detail_json, summary_json

if TYPE_CHECKING:
    from monitor.service import Service

log = logging.getLogger("callwarden.http")
MAX_PAGE = 1000
MAX_OFFSET = 10**9
SINGLE_HEADERS = ("Authorization", "Host", "Origin", "Upgrade", "Audiohook-Session-Id", "Audiohook-Organization-Id",
                  "X-Api-Key", "Signature", "Signature-Input", "X-Twilio-Signature")  # fmt: skip
"""Headers a request may carry once: a second copy is refused (400) before anyone reads it."""
CHALLENGE = {"WWW-Authenticate": 'Basic realm="Callwarden", charset="UTF-8"'}
STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


def respond(
    status: int, body: bytes | str, content_type: str = "text/plain; charset=utf-8", extra: dict[str, str] | None = None
) -> Response:
    """An HTTP response with the right length and no caching of live data."""
    data = body.encode() if isinstance(body, str) else body
    fields = {"Content-Type": content_type, "Content-Length": str(len(data)), "Cache-Control": "no-store"}
    fields.update(extra or {})
    return Response(status, HTTPStatus(status).phrase, Headers(fields), data)


def json_response(value: Any, status: int = 200) -> Response:
    return respond(status, json.dumps(value, default=_jsonable), "application/json")


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class HttpApi:
    """Routes GET requests; `None` means "not mine" (a WebSocket path, handled by the upgrade)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def handle(self, request: Request) -> Response:
        url = urlsplit(request.path)
        path = unquote(url.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        principal = None
        if path not in PUBLIC_PATHS:
            arrived = time.monotonic()
            principal = await self.service.access.authenticate(request.headers)
            if principal is None:  # every refusal answers at the same moment, whatever failed
                await asyncio.sleep(refusal_delay(arrived, time.monotonic()))
                return respond(401, "credentials required (HTTP Basic, or a Bearer token)\n", extra=CHALLENGE)
        try:
            return await self._route(path, query, principal)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)

    async def _route(self, path: str, query: dict[str, str], who: Principal | None) -> Response:
        if path == "/healthz":
            return respond(200, "ok\n")
        if path == "/readyz":
            reason = await self.service.readiness()
            return respond(200, "ready\n") if reason is None else respond(503, f"not ready: {reason}\n")
        if path == "/metrics":
            await self.service.refresh_gauges()
            body, content_type = self.service.metrics.render()
            return respond(200, body, content_type)
        assert who is not None  # every other path needs a principal (handle() answered 401)
        if path == "/api/status":
            return json_response(self.service.status())
        if path == "/api/calls":
            return await self._calls(query)
        if path.startswith("/api/calls/"):
            return await self._call(path.removeprefix("/api/calls/"), who)
        if path == "/api/me":  # the dashboard's acting user: who signed in (never typed into the page)
            return json_response({"name": who.name, "role": who.role, "open": not self.service.access.access.enabled})
        if path == "/api/audit":
            return await self._audit(query, who)
        if path == "/api/coaching":
            return await self._coaching(query, who)
        if path == "/api/do-not-call":
            return await self._do_not_call(query, who)
        if path == "/api/reports":
            return await self._reports(query, who)
        if path in ("/", "/index.html"):
            return self._static("index.html")
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        return respond(404, f"no such page: {path[:200]}\n")

    async def _calls(self, q: dict[str, str]) -> Response:
        passed = {"true": True, "false": False}.get(q.get("passed", "").lower()) if q.get("passed") else None
        calls = await self.service.store.read(
            Store.list_calls,
            since=_number(q, "since"),
            until=_number(q, "until"),
            agent=q.get("agent") or None,
            rule=q.get("rule") or None,
            severity=q.get("severity") or None,
            passed=passed,
            limit=_count(q, "limit", 100, MAX_PAGE),
            offset=_count(q, "offset", 0, MAX_OFFSET),
        )
        return json_response({"calls": [summary_json(c) for c in calls]})

    async def _call(self, rest: str, who: Principal) -> Response:
        call_id, _, sub = rest.partition("/")
        if sub == "export":
            return await self._export(call_id, who)
        if sub == "consent":
            proof = await self.service.store.read(Store.consent_record, call_id)
            if proof is None:
                return json_response({"error": f"no call {call_id[:128]}"}, 404)
            return json_response(dataclasses.asdict(proof))
        if sub:
            return json_response({"error": f"unknown call resource {sub[:64]!r}"}, 404)
        detail = await self.service.store.read(Store.get_call, call_id)
        if detail is None:
            return json_response({"error": f"no call {call_id[:128]}"}, 404)
        await self._record(who, "view", call_id)
        return json_response(detail_json(detail))

    async def _export(self, call_id: str, who: Principal) -> Response:
        from monitor.store.gdpr import export_document

        if not who.is_admin:
            return json_response({"error": "export needs the admin role"}, 403)
        exported = await self.service.store.read(Store.export_call, call_id)
        if exported is None:
            return json_response({"error": f"no call {call_id[:128]}"}, 404)
        await self._record(who, "export", call_id)
        return json_response(export_document(*exported))

    async def _audit(self, q: dict[str, str], who: Principal) -> Response:
        if not who.is_admin:
            return json_response({"error": "the audit log needs the admin role"}, 403)
        entries = await self.service.store.read(
            Store.audit_entries,
            since=_number(q, "since"),
            call_id=q.get("call_id") or None,
            action=q.get("action") or None,
            limit=_count(q, "limit", 200, MAX_PAGE),
        )
        return json_response({"entries": [dataclasses.asdict(e) for e in entries]})

    async def _coaching(self, q: dict[str, str], who: Principal) -> Response:
        """Coaching per agent or queue (`by`) for [since, until) — default the last 7 days — against the period
        before; JSON, or CSV with `format=csv`. Reading per-agent figures is audited (`coaching_view`)."""
        until = _number(q, "until") or time.time()
        since = _number(q, "since")
        since = until - 7 * 86400.0 if since is None else since
        try:
            report = await self.service.store.read(
                Store.coaching, since=since, until=until, by=q.get("by") or "agent",
                buckets=_count(q, "buckets", 7, MAX_BUCKETS),
            )
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        await self._record(who, "coaching_view", None)
        if q.get("format") == "csv":
            return respond(200, _csv(csv_rows(report), CSV_COLUMNS), "text/csv; charset=utf-8",
                           {"Content-Disposition": f'attachment; filename="callwarden-coaching-{report["by"]}.csv"'})
        return json_response(report)

    async def _do_not_call(self, q: dict[str, str], who: Principal) -> Response:
        """The do-not-call register: every request not to be called or contacted, with time and redacted evidence;
        JSON, or CSV with `format=csv` (for suppression lists). Reading it is audited."""
        requests = await self.service.store.read(
            Store.do_not_call_requests,
            since=_number(q, "since"),
            until=_number(q, "until"),
            limit=min(int(_number(q, "limit") or 1000), 10000),
        )
        rows = [
            {
                "call_id": r.call_id, "finding_id": r.finding_id, "rule_id": r.rule_id, "outcome": r.outcome,
                "requested_wall": r.wall_time, "audio_start": r.audio_start, "speaker": r.data.get("speaker", ""),
                "evidence": r.data.get("evidence", ""), "reason": r.data.get("reason", ""),
            }
            for r in requests
        ]
        await self._record(who, "do_not_call_export", None)
        if q.get("format") == "csv":
            return respond(200, _csv(rows, DO_NOT_CALL_COLUMNS), "text/csv; charset=utf-8")
        return json_response({"requests": rows})

    async def _reports(self, q: dict[str, str], who: Principal) -> Response:
        """An auditor's export of a date range (admins): one row per ended call started in [since, until) with the
        stored verdict, as CSV (`format=csv`, the columns of calls.csv of `callwarden export`) or JSON (each row
        with its stored report). At most MAX_REPORTS calls; audited as `bulk_export`."""
        if not who.is_admin:
            return json_response({"error": "the reports export needs the admin role"}, 403)
        since, until = _number(q, "since"), _number(q, "until")
        if since is None or until is None or since >= until:
            raise ValueError("query parameters since and until (epoch seconds, since < until) are required")
        rows, reports = await self.service.store.read(
            _report_rows, since, until, q.get("agent") or None, q.get("queue") or None
        )
        await self._audit_export(who, len(rows), since, until)
        if q.get("format") == "csv":
            return respond(200, _csv(rows, CALL_COLUMNS), "text/csv; charset=utf-8")
        return json_response({"calls": [{**row, "report": report} for row, report in zip(rows, reports, strict=True)]})

    async def _audit_export(self, who: Principal, calls: int, since: float, until: float) -> None:
        detail = {"calls": calls, "since": since, "until": until}
        try:
            await self.service.store.run(Store.audit, who.name, "bulk_export", source="api", role=who.role,
                                         detail=detail)  # fmt: skip
        except Exception:
            log.exception("audit log: could not record a bulk export by %s", who.name)

    async def _record(self, who: Principal, action: str, call_id: str | None) -> None:
        try:
            await self.service.store.run(Store.audit, who.name, action, source="api", role=who.role, call_id=call_id)
        except Exception:  # the answer is not withheld because the audit log could not be written; it is logged
            log.exception("audit log: could not record %s of call %s by %s", action, call_id, who.name)

    def _static(self, name: str) -> Response:
        target = (STATIC_DIR / name).resolve()
        if STATIC_DIR not in target.parents or not target.is_file():
            return respond(404, "not found\n")
        guessed = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        content_type = CONTENT_TYPES.get(target.suffix, guessed)
        return respond(200, target.read_bytes(), content_type, {"Cache-Control": "no-cache"})


def duplicated_header(headers: Headers) -> str | None:
    """The first of SINGLE_HEADERS the request carries more than once, else None."""
    return next((name for name in SINGLE_HEADERS if len(headers.get_all(name)) > 1), None)


DO_NOT_CALL_COLUMNS = (
    "call_id", "finding_id", "rule_id", "outcome", "requested_wall", "audio_start", "speaker", "evidence", "reason",
)


MAX_REPORTS = 10_000
"""Calls one /api/reports answer may hold (`callwarden export` has no limit)."""


def _report_rows(
    store: Store, since: float, until: float, agent: str | None, queue: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
    """The calls.csv rows of the selected calls and their stored reports (runs on the store's reader thread)."""
    ids = store.ended_call_ids(since=since, until=until, agent=agent)
    if len(ids) > MAX_REPORTS:
        raise ValueError(f"{len(ids)} calls in that range; ask for at most {MAX_REPORTS} (a shorter range), or use "
                         "`callwarden export`")  # fmt: skip
    rows, reports = [], []
    for call_id in ids:
        detail = store.get_call(call_id)
        if detail is None or (queue is not None and detail.call.metadata.get("queue", "") != queue):
            continue
        rows.append(call_row(detail, f"calls/{safe_name(call_id)}"))
        reports.append(detail.report)
    return rows, reports


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _number(q: dict[str, str], name: str) -> float | None:
    """A finite number from the query (None when absent); ValueError (400) naming the parameter otherwise."""
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"query parameter {name} must be a number, got {raw[:32]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"query parameter {name} must be a finite number, got {raw[:32]!r}")
    return value


def _count(q: dict[str, str], name: str, default: int, maximum: int) -> int:
    """A whole count from the query within 0..maximum (`default` when absent); ValueError (400) otherwise."""
    value = _number(q, name)
    if value is None:
        return default
    if value != int(value) or not 0 <= value <= maximum:
        raise ValueError(f"query parameter {name} must be a whole number 0..{maximum}, got {q[name][:32]!r}")
    return int(value)
