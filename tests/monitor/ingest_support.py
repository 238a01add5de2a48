"""Support for the ingest acceptance tests: the real service in-process on a free port, its HTTP API, test calls."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.synth import SynthCall, Turn, render_call
from monitor.config.settings import Config
from monitor.web.server import run_server
from rules.events import Speaker
from tests.conftest import SHARED_DATA, free_port

FSDD = SHARED_DATA / "audio" / "fsdd"
# Mastercard's well-known test number: read by the FSDD voice "jackson" it is recognized digit for digit. Numbers
# with a 4 are not (Vosk hears "for", which the rules do not take for a digit).
TEST_PAN = "5105105105105100"
VOICES = {Speaker.AGENT: "en-us+f3", Speaker.CUSTOMER: "en-us+klatt4"}
A, C = Speaker.AGENT, Speaker.CUSTOMER
CARD_CALL = (
    Turn(A, "good morning, thank you for calling acme bank.", speed=130),
    Turn(C, "good morning. i would like to pay my bill with a card.", speed=140),
    Turn(A, "sure. this call may be recorded for quality and training purposes.", speed=130),
    Turn(A, "please read me the card number.", speed=130),
    Turn(C, "it is", speed=140, digits=TEST_PAN, digit_voice="jackson"),
    Turn(A, "thank you. your payment is complete. goodbye.", speed=130),
)


@functools.cache
def card_call(rate: int = 8000, agent_channel: int = 0) -> SynthCall:
    """A short stereo call in which the customer reads a test card number (real spoken digits, FSDD)."""
    return render_call(
        CARD_CALL, rate=rate, agent_channel=agent_channel, gap=0.5, tail=1.0, voices=VOICES, fsdd_dir=FSDD
    )


@dataclass(frozen=True, slots=True)
class LiveService:
    """A running service: where it listens and how to read its HTTP API."""

    config: Config

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.config.port}{path}"

    async def get(self, path: str) -> tuple[int, str]:
        """GET `path`: status and body text (errors included, never raised)."""
        return await asyncio.to_thread(_get, self.http + path)

    async def get_json(self, path: str) -> Any:
        status, body = await self.get(path)
        assert status == 200, f"GET {path} → {status}: {body[:300]}"
        return json.loads(body)

    async def calls(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await self.get_json("/api/calls"))["calls"]
        return listed

    async def finished_call(self, call_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """GET /api/calls/<id> once the call is no longer active (scored and stored)."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = await self.get(f"/api/calls/{call_id}")
            if status == 200:
                detail: dict[str, Any] = json.loads(body)
                if detail["call"]["status"] != "active":
                    return detail
            if time.monotonic() > deadline:
                raise AssertionError(f"call {call_id} not finished after {timeout} s (last: {status} {body[:300]})")
            await asyncio.sleep(0.2)

    async def all_calls_finished(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The call list once no call is active any more."""
        deadline = time.monotonic() + timeout
        while True:
            listed = await self.calls()
            if all(call["status"] != "active" for call in listed):
                return listed
            if time.monotonic() > deadline:
                active = [call["call_id"] for call in listed if call["status"] == "active"]
                raise AssertionError(f"calls still active after {timeout} s: {active}")
            await asyncio.sleep(0.2)

    async def metric(self, name: str) -> float:
        """The value of an unlabelled Prometheus sample `name` from /metrics."""
        _, body = await self.get("/metrics")
        for line in body.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"no metric {name} in /metrics")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


@contextlib.asynccontextmanager
async def running_service(data_dir: Path, model_path: Path, **changes: Any) -> AsyncIterator[LiveService]:
    """`monitor.web.server.run_server` in this event loop on a free port, data in `data_dir`, the real model.

    Tests feed audio faster than real time, so they get backpressure (asr_overflow "block") unless they ask
    for the live default of shedding audio when recognition is far behind.
    """
    changes.setdefault("asr_overflow", "block")
    config = dataclasses.replace(
        Config(), host="127.0.0.1", port=free_port(), data_dir=data_dir, model_path=str(model_path),
        **{"drain_grace_seconds": 0.0, **changes},  # stopping ends the calls at once (the drain: its own tests)
    )
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_server(config, stop, started), name="callwarden under test")
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiter.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises the startup error, if any
        raise AssertionError("the service did not start within 120 s")
    try:
        yield LiveService(config)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def findings_by_rule(detail: dict[str, Any]) -> dict[str, list[str]]:
    """rule id → outcomes of a stored call's findings."""
    out: dict[str, list[str]] = {}
    for finding in detail["findings"]:
        out.setdefault(finding["rule_id"], []).append(finding["outcome"])
    return out


def record(figures: dict[str, Any], name: str) -> None:
    """Log measured figures in one greppable line (shown with -rA / on failure)."""
    logging.getLogger("callwarden.tests.figures").warning("FIGURES %s %s", name, json.dumps(figures, default=str))
