"""The real service (monitor.service.Service behind monitor.web.server.Front) on a loop thread, with a test driver that
opens calls and raises findings through the service's own store and live hub — many calls without audio or ASR.

Used by the wallboard and alert workflow browser tests and by bench/wallboard.py: the dashboard talks to the real
HTTP API, the real /live feed with its authentication, and the real store; only the calls' speech is skipped (the
driver raises the findings a call would have raised, through `Service.findings`, the path a live call takes).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from websockets.asyncio.server import serve

from monitor.call.session import Arrival
from monitor.config.settings import Config
from monitor.service import Service
from monitor.sinks.live import call_ended_message
from monitor.web.server import Front
from rules.findings import Finding, Severity

T = TypeVar("T")
RULES = (
    ("pci.pan-spoken", "sensitive_number", "pan_detected", Severity.CRITICAL, "customer read [card ••••4444]"),
    ("disclosure.recording", "required_phrase", "not_said", Severity.HIGH, ""),
    ("consent.recording", "consent", "consent_unclear", Severity.MEDIUM, "uh maybe"),
    ("conduct.profanity", "forbidden_phrase", "said", Severity.LOW, "that is [profanity]"),
)


class LiveService:
    """`Service` and its `Front` served on 127.0.0.1:`config.port` from a daemon loop thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="callwarden-live-service", daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self._served: Future[None] | None = None
        self.service: Service | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, timeout: float = 120.0) -> None:
        ready = threading.Event()

        async def serve_forever() -> None:
            self._stop = asyncio.Event()
            async with Service(self.config) as service:
                self.service = service
                front = Front(service)
                async with serve(front.handler, "127.0.0.1", self.config.port, process_request=front.process_request,
                                 select_subprotocol=front.select_subprotocol, compression=None):
                    ready.set()
                    await self._stop.wait()

        self._served = asyncio.run_coroutine_threadsafe(serve_forever(), self.loop)
        while not ready.wait(0.1):
            if self._served.done():
                self._served.result()
            timeout -= 0.1
            if timeout <= 0:
                raise TimeoutError("the service did not start")

    def close(self) -> None:
        if self._served is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
            self._served.result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    # -- the driver ------------------------------------------------------------------------------------------

    @property
    def svc(self) -> Service:
        assert self.service is not None, "LiveService not started"
        return self.service

    async def open_call(self, call_id: str, agent: str, queue: str, started_wall: float) -> None:
        """What `Service.call_started` does for a live call: the call row, then `call_started` on /live."""
        metadata = {"agent": agent, "queue": queue, "direction": "inbound"}
        await self.svc.store.call_started(call_id, protocol="twilio", started_wall=started_wall, metadata=metadata)
        self.svc.live.publish({
            "type": "call_started", "call_id": call_id, "protocol": "twilio", "metadata": metadata,
            "started_wall": started_wall,
            "legs": [{"index": 0, "role": "customer", "label": "inbound"},
                     {"index": 1, "role": "agent", "label": "outbound"}],
        })

    async def raise_finding(self, call_id: str, n: int, rule: int = 0, at: float = 5.0) -> Finding:
        """The n-th finding of a call, of RULES[rule], through `Service.findings` (stored with its outbox row, counted,
        shown on /live)."""
        rule_id, kind, outcome, severity, evidence = RULES[rule % len(RULES)]
        finding = Finding(
            call_id=call_id, rule_id=rule_id, kind=kind, outcome=outcome, severity=severity, start=at, end=at + 2.0,
            reason=f"{rule_id}: {outcome.replace('_', ' ')}", evidence=evidence, finding_id=f"{call_id}-f{n}",
            pack_id=rule_id.split(".")[0], pack_version="1.0.0",
        )
        await self.svc.findings([finding], [Arrival(time.time())], time.time())
        return finding

    async def clock(self, call_id: str, audio_time: float) -> None:
        self.svc.clock(call_id, audio_time, 0.0)

    async def end_call(self, call_id: str, audio_seconds: float) -> None:
        report = {"score": 40, "passed": False, "pass_mark": 80, "items": [], "packs": []}
        wall = time.time()
        await self.svc.store.call_ended(call_id, ended_wall=wall, audio_seconds=audio_seconds, end_reason="stop",
                                        report=report, status="completed")
        self.svc.live.publish(call_ended_message(call_id, "stop", wall, report))

    def act(self, message: dict[str, Any], user: str = "", password: str = "") -> dict[str, Any]:
        """Send one dashboard message (ack, alert_action) over a real /live connection; returns the broadcast it
        caused (`acknowledged` / `alert_action`) or the error the service answered."""
        from websockets.sync.client import connect

        headers = {}
        if user:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        with connect(f"ws://127.0.0.1:{self.config.port}/live", additional_headers=headers, max_size=None) as ws:
            json.loads(ws.recv(10))  # the snapshot
            ws.send(json.dumps(message))
            while True:
                reply: dict[str, Any] = json.loads(ws.recv(10))
                if reply.get("finding_id") == message.get("finding_id") and reply.get("type") in (
                    "acknowledged", "alert_action", "error"
                ):
                    return reply

    def get_json(self, path: str, user: str = "", password: str = "") -> Any:
        headers = {}
        if user:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(self.http + path, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@contextmanager
def started_live_service(data_dir: Path, model_path: Path) -> Iterator[LiveService]:
    """A LiveService on a free port with its store in `data_dir`, closed on exit."""
    from tests.conftest import free_port

    running = LiveService(Config(port=free_port(), data_dir=data_dir, model_path=str(model_path), log_level="WARNING"))
    running.start()
    try:
        yield running
    finally:
        running.close()
