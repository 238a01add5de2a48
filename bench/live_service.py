"""The system under test for the live benchmark: a real Mosquitto broker, `callwarden serve`, and its observers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import MosquittoBroker, free_port  # noqa: E402


@dataclass(frozen=True, slots=True)
class Alert:
    """One MQTT message as the subscriber got it: receive wall time, call id, payload."""

    received: float
    call_id: str
    payload: dict[str, Any]


class ServiceProcess:
    """`callwarden serve` in a subprocess on a free port, alerts to `mqtt_url`, data in `workdir`."""

    def __init__(self, workdir: Path, mqtt_url: str, root: Path | None = None) -> None:
        self.root = root  # run the service from this source tree (e.g. an exported older commit) instead
        self.port = free_port()
        self.workdir = workdir
        self.config = workdir / "callwarden.yaml"
        self.config.write_text(
            f"host: 127.0.0.1\nport: {self.port}\ndata_dir: {workdir / 'data'}\nmqtt_url: {mqtt_url}\n"
            "log_level: WARNING\n"
            # full-speed runs must decode every second (no shedding) and must not trip the per-connection rate limits
            "asr_overflow: block\nmax_asr_lag: 0\n"  # and no admission refusals: the ramp finds the limit itself
            "ingest: {max_messages_per_second: 0, max_bytes_per_second: 0}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        log = (self.workdir / "service.log").open("ab")
        entry = (
            [str(Path(sys.executable).parent / "callwarden")]
            if self.root is None
            else [sys.executable, "-m", _cli_module(self.root)]
        )
        command = [*entry, "serve", "--config", str(self.config)]
        env = {**os.environ, "PYTHONPATH": str(self.root)} if self.root else None
        self.proc = subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=self.root or REPO)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"callwarden serve exited with {self.proc.returncode}; see {self.workdir}/service.log"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.base}/readyz", timeout=1) as reply,
            ):
                if reply.status == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"callwarden serve not ready after {timeout:.0f} s; see {self.workdir}/service.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _cli_module(root: Path) -> str:
    """The entry module of the tree at `root`: monitor.cli.main since the restructure, monitor.cli before it."""
    return "monitor.cli.main" if (root / "monitor" / "cli" / "main.py").exists() else "monitor.cli"


@contextlib.contextmanager
def running_service(workdir: Path, root: Path | None = None) -> Iterator[tuple[MosquittoBroker, ServiceProcess]]:
    """A broker and the service on it (from `root` if given); both stopped on exit."""
    broker = MosquittoBroker(free_port(), workdir)
    broker.start()
    service = ServiceProcess(workdir, broker.url, root)
    try:
        service.start()
        yield broker, service
    finally:
        service.stop()
        broker.stop()


@dataclass(slots=True)
class AlertCollector:
    """Subscribes to every alert and score topic; keeps (receive wall time, call id, payload)."""

    broker: MosquittoBroker
    prefix: str = "callwarden"
    alerts: list[Alert] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with aiomqtt.Client(self.broker.host, self.broker.port) as client:
            await client.subscribe(f"{self.prefix}/alerts/#", qos=1)
            await client.subscribe(f"{self.prefix}/calls/+/score", qos=1)
            self.ready.set()
            async for message in client.messages:
                now = time.time()
                levels = str(message.topic).split("/")
                assert isinstance(message.payload, bytes)
                if levels[1] == "alerts":
                    self.alerts.append(Alert(now, levels[2], json.loads(message.payload)))
                else:
                    self.scores.setdefault(levels[2], now)

    def first(self, call_id: str, rule_prefix: str, outcomes: tuple[str, ...]) -> Alert | None:
        """The first alert of `call_id` from a rule starting with `rule_prefix` with one of `outcomes`."""
        for alert in self.alerts:
            p = alert.payload
            rule = str(p.get("rule_id", ""))
            if alert.call_id == call_id and rule.startswith(rule_prefix) and p.get("outcome") in outcomes:
                return alert
        return None


_BUCKET = re.compile(r'^callwarden_asr_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$')


@dataclass(frozen=True, slots=True)
class LagHistogram:
    """A snapshot of callwarden_asr_lag_seconds from /metrics (cumulative buckets, count, sum)."""

    buckets: tuple[tuple[float, float], ...]
    count: float
    total: float

    def minus(self, before: LagHistogram) -> LagHistogram:
        pairs = tuple((le, n - m) for (le, n), (_, m) in zip(self.buckets, before.buckets, strict=True))
        return LagHistogram(pairs, self.count - before.count, self.total - before.total)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """Upper bucket bound holding the q-quantile (what Prometheus can tell at best)."""
        for le, n in self.buckets:
            if self.count and n >= q * self.count:
                return le
        return float("inf")


def scrape_lag(base: str) -> LagHistogram:
    with urllib.request.urlopen(f"http://{base}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    buckets: list[tuple[float, float]] = []
    count = total = 0.0
    for line in text.splitlines():
        if m := _BUCKET.match(line):
            buckets.append((float(m.group(1)), float(m.group(2))))
        elif line.startswith("callwarden_asr_lag_seconds_count "):
            count = float(line.split()[1])
        elif line.startswith("callwarden_asr_lag_seconds_sum "):
            total = float(line.split()[1])
    return LagHistogram(tuple(buckets), count, total)


@dataclass(slots=True)
class ResourceSampler:
    """Samples a process's RSS (peak) and CPU time while running."""

    pid: int
    period: float = 0.25
    peak_rss: int = 0
    _proc: psutil.Process | None = None

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(psutil.Process(self.pid).memory_info().rss)

    async def run(self) -> None:
        while True:
            self.peak_rss = max(self.peak_rss, self.rss())
            await asyncio.sleep(self.period)


@dataclass(slots=True)
class LoopProbe:
    """GETs /healthz every `period` s on a fresh connection; (send wall time, round trip s) per probe.

    A stall of the service's event loop (e.g. blocking work when a call starts) shows up as a slow round trip.
    """

    base: str
    period: float = 0.02
    samples: list[tuple[float, float]] = field(default_factory=list)

    async def run(self) -> None:
        host, port = self.base.split(":")
        request = f"GET /healthz HTTP/1.1\r\nHost: {self.base}\r\nConnection: close\r\n\r\n".encode()
        while True:
            began_wall, began = time.time(), time.perf_counter()
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write(request)
                await reader.read()
            finally:
                writer.close()
            self.samples.append((began_wall, time.perf_counter() - began))
            await asyncio.sleep(self.period)
