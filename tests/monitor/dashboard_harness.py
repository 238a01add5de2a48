"""A fake Callwarden web front for dashboard tests: the real static files, /api/calls over canned calls and a /live
feed (the real LiveHub) driven by the test, on a background asyncio loop so sync Playwright tests can use it.

Run it by hand to look at the dashboard: `.venv/bin/python -m tests.monitor.dashboard_harness --port 8765`
(it replays a demo call every 40 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import mimetypes
import os
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from monitor.sinks.live import LiveHub
from tests.monitor import dashboard_scenario as scenario

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

STATIC_DIR = Path(__file__).resolve().parents[2] / "monitor" / "web" / "static"
SEVERITY_RANK = {name: rank for rank, name in enumerate(("info", "low", "medium", "high", "critical"))}
T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def launch_chromium(playwright: Playwright) -> Browser:
    """The system Chromium, headless, offline-friendly (never a browser downloaded by `playwright install`)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@contextmanager
def checked_page(browser: Browser, width: int, height: int, **context: Any) -> Iterator[Page]:
    """A page in a fresh browser context (`context`: more new_context options); the test fails if the page raised
    a JavaScript error."""
    opened_context = browser.new_context(viewport={"width": width, "height": height}, **context)
    opened = opened_context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    opened_context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@contextmanager
def chromium_browser() -> Iterator[Browser]:
    """The system Chromium for a test module: a failure under CI when it is missing, else a loud skip."""
    import pytest
    from playwright.sync_api import sync_playwright

    if not (CHROMIUM.exists() or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"SKIPPED LOUDLY: {CHROMIUM} not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            yield browser
        finally:
            browser.close()


def _response(status: int, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store")])
    return Response(status, HTTPStatus(status).phrase, headers, body)


def _json(status: int, value: Any) -> Response:
    return _response(status, json.dumps(value).encode(), "application/json")


class QueryError(ValueError):
    """A bad /api/calls query parameter."""


def _summary(detail: dict[str, Any]) -> dict[str, Any]:
    """A /api/calls row: the call plus findings_count and max_severity over non-info findings (as the store does)."""
    alerts = [f for f in detail["findings"] if SEVERITY_RANK.get(f["severity"], 0) > 0]
    worst = max((f["severity"] for f in alerts), key=lambda s: SEVERITY_RANK[s], default=None)
    return {**detail["call"], "findings_count": len(alerts), "max_severity": worst}


def filter_calls(details: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """/api/calls semantics of docs/live-feed.md: since ≤ started < until, agent, rule, severity ≥, passed, paging."""
    try:
        since = float(query["since"]) if query.get("since") else None
        until = float(query["until"]) if query.get("until") else None
        limit = int(query.get("limit") or 50)
        offset = int(query.get("offset") or 0)
    except ValueError as exc:
        raise QueryError(f"bad number in query: {exc}") from None
    severity = query.get("severity")
    if severity and severity not in SEVERITY_RANK:
        raise QueryError(f"unknown severity {severity!r}")
    passed = {"true": True, "false": False, None: None, "": None}.get(query.get("passed"), "bad")
    if passed == "bad" or not 0 < limit <= 1000 or offset < 0:
        raise QueryError("passed must be true/false, limit 1..1000, offset ≥ 0")
    rows = []
    for detail in details:
        call = detail["call"]
        rule_findings = [f for f in detail["findings"] if not query.get("rule") or f["rule_id"] == query["rule"]]
        if severity:
            rule_findings = [f for f in rule_findings if SEVERITY_RANK[f["severity"]] >= SEVERITY_RANK[severity]]
        started = call["started_wall"]
        if (since is not None and started < since) or (until is not None and started >= until):
            continue
        if query.get("agent") and call["agent"] != query["agent"]:
            continue
        if passed is not None and call["passed"] != passed:
            continue
        if (query.get("rule") or severity) and not rule_findings:
            continue
        rows.append(_summary(detail))
    rows.sort(key=lambda r: (-r["started_wall"], r["call_id"]))
    return rows[offset : offset + limit]


class DashboardHarness:
    """Serves monitor/web/static, /api/calls over `calls` and /live; `publish` pushes contract messages to dashboards.
    """

    def __init__(self, calls: list[dict[str, Any]] | None = None, *, answer_acks: bool = True) -> None:
        self.calls = list(calls or [])
        self.answer_acks = answer_acks
        self.ack_error = ""  # when set, acks are refused with this error, as the service does on a StoreError
        self.me = {"name": "Dana Supervisor", "role": "supervisor", "open": False}  # the signed-in user (/api/me)
        self.received: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.port = 0
        self._hub = LiveHub()
        self._server: Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dashboard-harness", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self, port: int | None = None) -> None:
        """Listen on `port` (default: the previous port, or a free one the first time)."""
        self._run(self._start(self.port if port is None else port))

    async def _start(self, port: int) -> None:
        self._server = await serve(self._live, "127.0.0.1", port, process_request=self._http)
        self.port = self._server.sockets[0].getsockname()[1] if port == 0 else port

    def stop(self) -> None:
        """Close the listener and every /live connection (the hub's call state survives, like a restarted feed's)."""
        self._run(self._stop())

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def close(self) -> None:
        """Stop serving and end the background loop."""
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def publish(self, *messages: dict[str, Any]) -> None:
        """Send messages to every connected dashboard (and remember them for the next snapshot)."""
        self._run(self._publish(messages))

    async def _publish(self, messages: tuple[dict[str, Any], ...]) -> None:
        for message in messages:
            self._hub.publish(message)

    def subscribers(self) -> int:
        return self._hub.subscriber_count

    def wait_for_received(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """The first client message matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.received):
                if predicate(message):
                    return message
            time.sleep(0.02)
        raise AssertionError(f"no matching client message within {timeout} s; got {self.received}")

    async def _live(self, ws: ServerConnection) -> None:
        sub = self._hub.subscribe()

        async def pump() -> None:
            while True:
                await ws.send(await sub.queue.get())

        sender = asyncio.create_task(pump())
        try:
            async for raw in ws:
                reply = self._on_client_message(raw)
                if reply is not None:
                    await ws.send(json.dumps(reply))
        finally:
            sender.cancel()
            self._hub.unsubscribe(sub)

    def _on_client_message(self, raw: str | bytes) -> dict[str, Any] | None:
        message = json.loads(raw)
        self.received.append(message)
        if message.get("type") != "ack" or not self.answer_acks:
            return None
        if self.ack_error:
            return {"type": "error", "finding_id": message.get("finding_id"), "error": self.ack_error}
        call_id = next((c["call_id"] for c in self._hub.snapshot()
                        for f in c["findings"] if f["finding"]["finding_id"] == message.get("finding_id")), "")
        self._hub.publish({"type": "acknowledged", "call_id": call_id, "finding_id": message["finding_id"],
                           "by": self.me["name"], "at": time.time()})
        return None

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        path = unquote(parts.path)
        self.requests.append(request.path)
        if path == "/live":
            return None
        if path == "/":
            return self._static("index.html")
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if path == "/api/me":
            return _json(200, self.me)
        if path == "/api/calls":
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            try:
                return _json(200, {"calls": filter_calls(self.calls, query)})
            except QueryError as exc:
                return _json(400, {"error": str(exc)})
        if path.startswith("/api/calls/"):
            call_id = path.removeprefix("/api/calls/")
            detail = next((d for d in self.calls if d["call"]["call_id"] == call_id), None)
            return _json(200, detail) if detail else _json(404, {"error": f"no call {call_id!r}"})
        return _json(404, {"error": f"no route {path!r}"})

    def _static(self, name: str) -> Response:
        file = (STATIC_DIR / name).resolve()
        if file.parent != STATIC_DIR or not file.is_file():
            return _json(404, {"error": f"no static file {name!r}"})
        kind = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}.get(file.suffix)
        content_type = kind or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return _response(200, file.read_bytes(), f"{content_type}; charset=utf-8")


def demo_calls(now: float) -> list[dict[str, Any]]:
    """A few stored calls for the history and report views."""
    return [
        scenario.stored_call("call-2041", "alice", "billing", now - 3600),
        scenario.stored_call("call-2040", "bob", "retention", now - 7200, clean=True),
        scenario.stored_call("call-1999", "carol", "billing", now - 86400 * 3, clean=True),
    ]


def _replay_forever(harness: DashboardHarness, pause: float) -> None:
    while True:
        call_id = f"live-{int(time.time()) % 100000}"
        for message in scenario.demo_live_script(call_id, time.time()):
            harness.publish(message)
            time.sleep(pause)
        harness.publish({"type": "call_ended", "call_id": call_id, "reason": "hangup", "ended_wall": time.time(),
                         "report": scenario.demo_report(call_id, scenario.demo_findings(call_id))})
        time.sleep(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pause", type=float, default=0.8, help="seconds between replayed messages")
    args = parser.parse_args(argv)
    harness = DashboardHarness(demo_calls(time.time()))
    harness.start(args.port)
    print(f"dashboard harness on {harness.url}/ (Ctrl-C to stop)")
    try:
        _replay_forever(harness, args.pause)
    except KeyboardInterrupt:
        harness.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
