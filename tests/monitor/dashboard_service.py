"""The real Callwarden service on a background event loop thread, for the browser tests of the dashboard.

Playwright's sync API owns the test's main thread, so the service (`monitor.web.server.run_server`) and the call feeder
run on a loop in a thread of their own; the test starts, stops and restarts the service (same port, same data dir).
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import urllib.request
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from evaluation.feeders import FeedLog, stream_twilio
from evaluation.synth import SynthCall, Turn, render_call
from monitor.config.settings import Config
from monitor.web.server import run_server
from rules.events import Speaker

T = TypeVar("T")
FSDD_DIR = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "audio" / "fsdd").resolve()
TEST_PAN = "5555555555554444"  # Mastercard's well-known test number (not starting with 4: "for" → 4 is a known gap)
VOICES = {Speaker.AGENT: "en-us+f3", Speaker.CUSTOMER: "en-us+klatt4"}
A, C = Speaker.AGENT, Speaker.CUSTOMER
CARD_CALL = (
    Turn(
        A,
        "good morning, thank you for calling acme bank. this call may be recorded for quality and training.",
        speed=140,
    ),
    Turn(C, "hello. i would like to pay my bill with a card."),
    Turn(A, "sure. please read me the card number."),
    # george's FSDD digits come out of Vosk as one utterance; lucas's are split into four (see the test's notes)
    Turn(C, "it is", digits=TEST_PAN, digit_voice="george"),
    Turn(A, "thank you. your payment is complete. goodbye."),
)


@functools.cache
def card_call() -> SynthCall:
    """A ~30 s stereo call (agent left) in which the customer reads a test card number in a real voice (FSDD)."""
    return render_call(CARD_CALL, rate=8000, agent_channel=0, gap=0.5, tail=1.0, voices=VOICES, fsdd_dir=FSDD_DIR)


class ServiceThread:
    """`monitor.web.server.run_server` on an event loop in a daemon thread; `start()`/`stop()` may be repeated."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="callwarden-service", daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        self._served: Future[None] | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.config.port}{path}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120.0) -> T:
        """Run `coro` on the service's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Start `coro` on the service's loop; the future completes with it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def start(self, timeout: float = 60.0) -> None:
        """Start serving; returns once the server listens."""
        assert self._served is None or self._served.done(), "service already running"
        started = threading.Event()

        async def serve() -> None:
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.create_task(run_server(self.config, self._stop, ready))
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            started.set()
            await task

        self._served = self.submit(serve())
        if not started.wait(timeout):
            raise TimeoutError(f"the service did not start listening on port {self.config.port} in {timeout:.0f} s")
        if self._served.done():
            self._served.result()  # raises why it stopped

    def stop(self, timeout: float = 60.0) -> None:
        """Graceful stop (active calls are ended, scored and stored); returns once the server is closed."""
        if self._served is None or self._served.done():
            return
        stop = self._stop
        assert stop is not None
        self.loop.call_soon_threadsafe(stop.set)
        self._served.result(timeout)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def stream(self, call: SynthCall, call_id: str, speed: float = 1.0) -> Future[FeedLog]:
        """Stream `call` into /ingest/twilio at `speed` (1 = real time) in the background."""
        params = {"agent": "sam", "queue": "payments", "direction": "inbound"}
        return self.submit(
            stream_twilio(self.ws("/ingest/twilio"), call.audio, call_id=call_id, speed=speed, parameters=params)
        )

    def get_json(self, path: str) -> Any:
        """GET `path` from the service's HTTP API (status 200 asserted)."""
        with urllib.request.urlopen(self.http + path, timeout=10) as response:
            assert response.status == 200, f"GET {path} → {response.status}"
            return json.loads(response.read())
