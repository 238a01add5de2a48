"""Live-service test harness: synthesized card calls with known digit times, the real server in-process, MQTT capture.

Shared by tests/monitor/test_service_*.py and bench/alert_latency.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np

from evaluation.synth import SynthCall, Turn, render_call
from monitor.config.settings import Config
from monitor.web.server import run_server
from rules.events import Speaker
from tests.conftest import MosquittoBroker

REPO = Path(__file__).resolve().parents[2]
FSDD_DIR = (REPO / ".." / "shared" / "data" / "audio" / "fsdd").resolve()
VOICES = {Speaker.AGENT: "en-us+f3", Speaker.CUSTOMER: "en-us+klatt4"}
AGENT_SPEED, CUSTOMER_SPEED = 130, 140
# Well-known test cards whose first digit is not 4 ("for" before a number is read as a digit: a known rules gap).
TEST_CARDS = ("5555555555554444", "378282246310005", "6011111111111117", "5105105105105100", "371449635398431")


@dataclass(frozen=True, slots=True)
class CardCall:
    """A rendered stereo call in which the customer reads `card`; `last_digit_end` is when its last digit ends."""

    call: SynthCall
    card: str
    last_digit_end: float


def card_call(card: str, *, digit_voice: str = "lucas", fsdd_dir: Path = FSDD_DIR, late: bool = False) -> CardCall:
    """A ~25 s call: disclosure, a warm-up line, the agent asks, the customer reads `card` (FSDD digits).

    `late` adds a longer closing so the call runs on well after the card number (for mid-call interruptions).
    """
    a, c = Speaker.AGENT, Speaker.CUSTOMER
    turns = [
        Turn(a, "thank you for calling acme bank. this call may be recorded for quality and training purposes."),
        Turn(c, "hi. i would like to pay my bill with a card please."),
        Turn(a, "sure. please read me the card number."),
        Turn(c, "okay. it is", digits=card, digit_voice=digit_voice),
        Turn(a, "thank you. your payment is complete. is there anything else i can help you with today?"),
    ]
    if late:
        turns += [
            Turn(c, "yes. i would also like to change the address on my account."),
            Turn(a, "of course. i can help you with that. what is the new street name?"),
            Turn(c, "it is the main street near the old train station."),
        ]
    turns = [replace(t, speed=AGENT_SPEED if t.speaker is a else CUSTOMER_SPEED) for t in turns]
    call = render_call(turns, rate=8000, agent_channel=0, voices=VOICES, fsdd_dir=fsdd_dir)
    label = next(t for t in call.labels if t.speaker is c and t.text.startswith("okay. it is"))
    return CardCall(call, card, last_sound_end(call, 1, label.start, label.end))


def last_sound_end(call: SynthCall, channel: int, start: float, end: float, threshold: int = 200) -> float:
    """Audio time (s) just after the last sample louder than `threshold` on `channel` within [start, end)."""
    lo, hi = round(start * call.rate), round(end * call.rate)
    loud = np.flatnonzero(np.abs(call.audio[lo:hi, channel].astype(np.int32)) > threshold)
    if loud.size == 0:
        raise ValueError(f"no sound on channel {channel} between {start:.2f} s and {end:.2f} s")
    return (lo + int(loud[-1]) + 1) / call.rate


def service_config(data_dir: Path, model_path: Path, port: int, mqtt_url: str = "", **changes: Any) -> Config:
    """The embedded defaults on a loopback `port`, a tmp data dir and the real model.

    Tests feed audio faster than real time, so recognition falls behind by design: they get backpressure
    (asr_overflow "block") unless they ask for the live default of shedding audio.
    """
    changes.setdefault("asr_overflow", "block")
    # Stopping the in-process service ends its calls at once, as these tests were written for; the drain (SIGTERM
    # lets calls finish) has its own tests (test_service_drain.py, tests/test_cluster.py).
    changes.setdefault("drain_grace_seconds", 0.0)
    return replace(Config(), port=port, data_dir=data_dir, mqtt_url=mqtt_url, model_path=str(model_path), **changes)


@asynccontextmanager
async def running_service(config: Config) -> AsyncIterator[str]:
    """The real server (`run_server`) in a background task; yields `127.0.0.1:<port>`, stops it gracefully."""
    stop, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_server(config, stop, started), name="callwarden-under-test")
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiter.cancel()
        if task.done():
            task.result()  # raises the start-up error
        task.cancel()
        raise TimeoutError("the service did not start within 120 s")
    try:
        yield f"127.0.0.1:{config.port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def http_get(url: str, timeout: float = 10) -> tuple[int, str]:
    """A blocking GET (run it with asyncio.to_thread): status and body."""
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return int(reply.status), reply.read().decode()


async def get_json(url: str) -> Any:
    _, body = await asyncio.to_thread(http_get, url)
    return json.loads(body)


def make_persistent(broker: MosquittoBroker) -> None:
    """Restart `broker` with persistence on, so subscribers' QoS 1 sessions survive an outage we cause."""
    broker.stop()
    db_dir = broker.workdir / "mosquitto-db"
    db_dir.mkdir(exist_ok=True)
    broker.conf.write_text(
        f"listener {broker.port} 127.0.0.1\nallow_anonymous true\n"
        f"persistence true\npersistence_location {db_dir}/\nautosave_interval 1\n"
    )
    broker.start()


async def wait_call_stored(base: str, call_id: str, timeout: float = 60) -> Any:
    """The call's /api/calls/<id> detail once it is no longer active (scored and stored)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                detail = await get_json(f"http://{base}/api/calls/{call_id}")
            except OSError:  # 404 until the call started
                detail = None
            if detail is not None and detail["call"]["status"] != "active":
                return detail
            await asyncio.sleep(0.1)


@dataclass
class Received:
    """Messages a subscriber got: (topic, payload dict, receive wall time), in arrival order."""

    messages: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    connections: int = 0

    def findings(self, call_id: str | None = None) -> list[tuple[dict[str, Any], float]]:
        return [
            (p, t)
            for _, p, t in self.messages
            if p.get("type") == "finding" and (call_id is None or p.get("call_id") == call_id)
        ]

    def first(self, call_id: str, outcome: str) -> tuple[dict[str, Any], float] | None:
        return next(((p, t) for p, t in self.findings(call_id) if p.get("outcome") == outcome), None)

    async def wait_until(self, predicate: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)


@asynccontextmanager
async def subscriber(
    host: str, port: int, topic: str, *, client_id: str, persistent: bool = False
) -> AsyncIterator[Received]:
    """Subscribes `topic` at QoS 1 and keeps collecting, reconnecting after a broker loss.

    `persistent` uses a non-clean session: the broker queues QoS 1 messages for it while it is disconnected
    (if the broker itself persists sessions across its restart).
    """
    got = Received()

    async def run() -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    host, port, identifier=client_id, clean_session=False if persistent else None, keepalive=5
                ) as client:
                    await client.subscribe(topic, qos=1)
                    got.connections += 1
                    got.subscribed.set()
                    async for m in client.messages:
                        assert isinstance(m.payload, bytes)
                        got.messages.append((str(m.topic), json.loads(m.payload), time.time()))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(10):
            await got.subscribed.wait()
        yield got
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Receiver:
    """A local HTTP server standing in for the recorder's control endpoint (or an alert receiver); answers
    `refusal` (503) to the first `refuse` POSTs."""

    def __init__(self, refuse: int = 1, refusal: int = 503) -> None:
        self.posts: list[tuple[float, int, dict[str, str], bytes]] = []
        received = self.posts
        refusals = [refuse]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = refusal if refusals[0] > 0 else 204
                refusals[0] -= 1
                received.append((time.time(), status, dict(self.headers.items()), body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callwarden/control"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class StoreWatch:
    """Polls the service's SQLite file (WAL: a reader never blocks it) and notes when each transcript row appeared."""

    def __init__(self, db_path: Path, interval: float = 0.01) -> None:
        self.db_path = db_path
        self.interval = interval
        self.first_seen: dict[tuple[str, int, int], float] = {}
        self._stop = False

    def run(self) -> None:
        while not self._stop:
            if self.db_path.exists():
                try:
                    with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=1) as conn:
                        rows = conn.execute("SELECT call_id, channel, utterance_index FROM transcript").fetchall()
                except sqlite3.Error:
                    rows = []
                now = time.time()
                for call_id, channel, index in rows:
                    self.first_seen.setdefault((str(call_id), int(channel), int(index)), now)
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop = True
