"""One load stage of the live benchmark: N concurrent real-time Twilio calls through the running service, measured."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from bench.live_calls import LabelledCall
from bench.live_service import AlertCollector, LoopProbe, ResourceSampler, ServiceProcess, scrape_lag
from evaluation.feeders import FeedLog, stream_twilio

CARD_OUTCOMES = ("pan_detected", "possible_pan")
DISCLOSURE_OUTCOMES = ("said",)
CONSENT_OUTCOMES = ("consent_given",)
START_WINDOW = 0.5  # seconds after a call starts in which an event-loop stall is attributed to that start
SCORE_TIMEOUT = 30.0


@dataclass(slots=True)
class StageResult:
    """What one stage measured."""

    n: int
    speed: float
    wall: float
    audio_seconds: float  # all legs
    card_latencies: list[float] = field(default_factory=list)
    missed: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    bench_cpu_seconds: float = 0.0
    idle_rss: int = 0
    peak_rss: int = 0
    lag_mean: float = 0.0
    lag_p95_bucket: float = 0.0
    start_stalls: list[float] = field(default_factory=list)  # max probe round trip in START_WINDOW after starts
    quiet_stalls: list[float] = field(default_factory=list)  # same, windows with no call starting
    scored: int = 0

    @property
    def missed_total(self) -> int:
        return sum(self.missed.values())

    def latency_pct(self, q: float) -> float:
        return float(np.percentile(self.card_latencies, q)) if self.card_latencies else float("inf")

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.wall

    @property
    def rss_per_call(self) -> float:
        return (self.peak_rss - self.idle_rss) / self.n

    @property
    def added_start_lag(self) -> float:
        """Median stall right after a call start minus the median stall of quiet windows (seconds)."""
        if not self.start_stalls or not self.quiet_stalls:
            return float("nan")
        return statistics.median(self.start_stalls) - statistics.median(self.quiet_stalls)


async def run_stage(
    service: ServiceProcess,
    collector: AlertCollector,
    calls: list[LabelledCall],
    n: int,
    tag: str,
    stagger: float = 0.5,
    speed: float = 1.0,
) -> StageResult:
    """Stream `n` calls (cycling through `calls`), call i starting i × `stagger` s after the first."""
    url = f"ws://{service.base}/ingest/twilio"
    sampler = ResourceSampler(service.pid)
    probe = LoopProbe(service.base)
    idle_rss = sampler.rss()
    sampler.peak_rss = idle_rss
    lag0 = scrape_lag(service.base)
    cpu0, bench_cpu0 = sampler.cpu_seconds(), time.process_time()
    starts: list[float] = [0.0] * n
    chosen = [calls[i % len(calls)] for i in range(n)]
    ids = [f"CA{tag}{i:03d}" for i in range(n)]

    async def one(i: int) -> FeedLog:
        await asyncio.sleep(i * stagger)
        starts[i] = time.time()
        return await stream_twilio(url, chosen[i].audio, call_id=ids[i], speed=speed)

    watchers = [asyncio.create_task(sampler.run()), asyncio.create_task(probe.run())]
    began = time.perf_counter()
    try:
        feeds = await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - began
        await _wait_scores(collector, ids)
    finally:
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    lag = scrape_lag(service.base).minus(lag0)
    result = StageResult(
        n=n,
        speed=speed,
        wall=wall,
        audio_seconds=sum(2 * c.duration for c in chosen),
        cpu_seconds=sampler.cpu_seconds() - cpu0,
        bench_cpu_seconds=time.process_time() - bench_cpu0,
        idle_rss=idle_rss,
        peak_rss=sampler.peak_rss,
        lag_mean=lag.mean,
        lag_p95_bucket=lag.quantile(0.95),
        scored=sum(1 for i in ids if i in collector.scores),
    )
    _score_alerts(result, collector, chosen, ids, feeds)
    _score_starts(result, probe, starts)
    return result


async def _wait_scores(collector: AlertCollector, ids: list[str]) -> None:
    deadline = time.monotonic() + SCORE_TIMEOUT
    while time.monotonic() < deadline and not all(i in collector.scores for i in ids):
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # alerts published just before the score


def _score_alerts(
    result: StageResult, collector: AlertCollector, chosen: list[LabelledCall], ids: list[str], feeds: list[FeedLog]
) -> None:
    missed = {"card": 0, "disclosure": 0, "consent": 0}
    for call, call_id, feed in zip(chosen, ids, feeds, strict=True):
        card = collector.first(call_id, "pci.", CARD_OUTCOMES)
        sent = feed.wall_when_sent(call.card_end)
        if card is None or sent is None:
            missed["card"] += 1
        else:
            result.card_latencies.append(card.received - sent)
        if collector.first(call_id, "disclosure.", DISCLOSURE_OUTCOMES) is None:
            missed["disclosure"] += 1
        if collector.first(call_id, "consent.", CONSENT_OUTCOMES) is None:
            missed["consent"] += 1
    result.missed = missed


def _score_starts(result: StageResult, probe: LoopProbe, starts: list[float]) -> None:
    samples = probe.samples
    if not samples:
        return
    for s in starts:
        inside = [rtt for t, rtt in samples if s <= t < s + START_WINDOW]
        if inside:
            result.start_stalls.append(max(inside))
    t, end = samples[0][0], samples[-1][0]
    while t + START_WINDOW <= end:
        if not any(s - START_WINDOW < t < s + START_WINDOW for s in starts):
            inside = [rtt for w, rtt in samples if t <= w < t + START_WINDOW]
            if inside:
                result.quiet_stalls.append(max(inside))
        t += START_WINDOW
