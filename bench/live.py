"""Live capacity benchmark: broker + `callwarden serve` under N real-time Twilio calls, vs raw Vosk and vosk-server.

Run: .venv/bin/python bench/live.py [--ns 1,2,4,6,8,10,12,...] [--runs 3] [--budget 660] [--write] (≈ 15 min)
Per N it streams N synthesized stereo calls (disclosure, consent, a card number read by a real voice) at real time
over the Twilio protocol, and measures speech-to-alert latency (MQTT receive − wall time the last digit's audio was
sent), ASR lag (/metrics), service CPU and RSS, missed alerts, and the event-loop stall when a call starts. The ramp
stops at the first N failing p95 ≤ 1 s with no alert missed and bisects the last step; the boundary Ns and half capacity
are then re-run (--runs in all). In the same run: raw Vosk (2 threads, in-process, same model and tuning) and
alphacep/vosk-server (skipped loudly when /tmp/vosk-server is absent) decode the same legs at full speed.
With --write the "## Live capacity and latency (bench/live.py)" section of BENCHMARKS.md is replaced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.live_calls import LabelledCall, corpus  # noqa: E402
from bench.live_limit import RawRun, raw_vosk, recognizer_setup_ms  # noqa: E402
from bench.live_peer import PeerThroughput, peer_missing, peer_throughput, running_peer, stream_leg  # noqa: E402
from bench.live_profile import profiled, recognizer_growth  # noqa: E402
from bench.live_report import Findings, PeerLatency, ThroughputRow, render_section, write_section  # noqa: E402
from bench.live_service import AlertCollector, ResourceSampler, ServiceProcess, running_service  # noqa: E402
from bench.live_stage import StageResult, run_stage  # noqa: E402
from evaluation.feeders import stream_twilio  # noqa: E402
from streams.models import resolve  # noqa: E402
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model, tuned_model_dir  # noqa: E402

P95_GOAL = 1.0


def passes(stages: list[StageResult]) -> bool:
    """All runs at one N: pooled p95 ≤ 1 s and no alert missed in any run."""
    pooled = pooled_latencies(stages)
    return bool(pooled) and _pct(pooled, 95) <= P95_GOAL and all(s.missed_total == 0 for s in stages)


def pooled_latencies(stages: list[StageResult]) -> list[float]:
    return [x for s in stages for x in s.card_latencies]


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


async def ramp(
    service: ServiceProcess,
    collector: AlertCollector,
    calls: list[LabelledCall],
    ns: list[int],
    runs: int,
    budget: float,
) -> dict[int, list[StageResult]]:
    """Ramp N until a stage fails (or the time budget is spent), then re-run the boundary and half capacity."""
    began = time.monotonic()
    by_n: dict[int, list[StageResult]] = {}
    stage_seconds = max(c.duration for c in calls) + 5
    for n in ns:
        if time.monotonic() - began + stage_seconds + n * 0.5 > budget:
            print(f"  time budget spent before N={n}", flush=True)
            break
        by_n[n] = [await _stage(service, collector, calls, n, f"r0n{n}")]
        if not passes(by_n[n]):
            break
    await _refine(service, collector, calls, by_n, began, budget, stage_seconds)
    passing = [n for n in by_n if passes(by_n[n])]
    best = max(passing, default=0)
    half = max((n for n in passing if n <= best / 2), default=0)
    recheck = [n for n in {best, half, min((n for n in by_n if n > best), default=0)} if n]
    for run in range(1, runs):
        for n in sorted(recheck):
            if time.monotonic() - began + stage_seconds + n * 0.5 > budget:
                print(f"  time budget spent: no run {run + 1} at N={n}", flush=True)
                continue
            by_n[n].append(await _stage(service, collector, calls, n, f"r{run}n{n}"))
    return by_n


async def _refine(
    service: ServiceProcess,
    collector: AlertCollector,
    calls: list[LabelledCall],
    by_n: dict[int, list[StageResult]],
    began: float,
    budget: float,
    stage_seconds: float,
) -> None:
    """Bisect between the last passing and the first failing N (the ramp steps by 2 calls)."""
    while True:
        best = max((n for n in by_n if passes(by_n[n])), default=0)
        worse = min((n for n in by_n if n > best), default=0)
        if not best or worse - best < 2:
            return
        mid = (best + worse) // 2
        if time.monotonic() - began + stage_seconds + mid * 0.5 > budget:
            return
        by_n[mid] = [await _stage(service, collector, calls, mid, f"r0n{mid}")]


async def _stage(
    service: ServiceProcess, collector: AlertCollector, calls: list[LabelledCall], n: int, tag: str
) -> StageResult:
    result = await run_stage(service, collector, calls, n, tag)
    print(
        f"  N={n:3d} p50 {result.latency_pct(50):.2f} p95 {result.latency_pct(95):.2f} s, missed {result.missed}, "
        f"cores {result.cores:.2f}, rss/call {result.rss_per_call / 2**20:.1f} MiB, lag mean {result.lag_mean:.2f} s, "
        f"start stall +{result.added_start_lag * 1000:.0f} ms",
        flush=True,
    )
    return result


async def our_throughput(
    service: ServiceProcess, collector: AlertCollector, calls: list[LabelledCall]
) -> ThroughputRow:
    """Every call at once at full speed through the service; wall until every score arrived."""
    sampler = ResourceSampler(service.pid)
    cpu0 = sampler.cpu_seconds()
    url = f"ws://{service.base}/ingest/twilio"
    ids = [f"CAfull{time.time_ns() % 10**9}{i}" for i in range(len(calls))]
    began = time.perf_counter()
    await asyncio.gather(*(stream_twilio(url, c.audio, call_id=i, speed=0) for c, i in zip(calls, ids, strict=True)))
    deadline = time.monotonic() + 180
    while not all(i in collector.scores for i in ids):
        if time.monotonic() > deadline:
            raise RuntimeError("full-speed run: not every call was scored within 3 min (see service.log)")
        await asyncio.sleep(0.02)
    wall = time.perf_counter() - began
    audio = sum(2 * c.duration for c in calls)
    return ThroughputRow("callwarden (Twilio → MQTT)", 2 * len(calls), audio, wall, sampler.cpu_seconds() - cpu0)


def legs_of(calls: list[LabelledCall]) -> list[bytes]:
    return [leg for call in calls for leg in call.legs()]


async def peer_latency(url: str, calls: list[LabelledCall], n: int) -> PeerLatency:
    """n calls' legs streamed at real time to vosk-server: customer card speech end → its final result."""
    chosen = [calls[i % len(calls)] for i in range(n)]
    legs = await asyncio.gather(*(stream_leg(url, pcm, speed=1.0) for c in chosen for pcm in c.legs()))
    latencies = []
    for i, call in enumerate(chosen):
        customer = legs[2 * i + 1]
        sent = customer.wall_when_sent(call.card_end)
        final = customer.final_after(sent) if sent is not None else None
        if sent is not None and final is not None:
            latencies.append(final - sent)
    return PeerLatency(n, latencies)


async def main_async(args: argparse.Namespace, workdir: Path) -> Findings:
    calls = corpus()
    model, _ = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    found = Findings(load_before=os.getloadavg(), setup_ms=recognizer_setup_ms(model))
    found.growth = recognizer_growth(model, calls[0].legs())
    raws: list[RawRun] = []
    ours: list[ThroughputRow] = []
    peers: list[PeerThroughput] = []
    with running_service(workdir, args.service_root) as (broker, service):
        collector = AlertCollector(broker)
        listener = asyncio.create_task(collector.run())
        await collector.ready.wait()
        found.service_idle_rss = ResourceSampler(service.pid).rss()
        await run_stage(service, collector, calls, 1, "warmup", speed=0)  # first-call costs out of the way
        found.stages = await ramp(service, collector, calls, args.ns, args.runs, args.budget)  # before full speed:
        # its RSS high-water mark then grows with N only (the allocator keeps what finished calls freed)
        limit_calls = calls[: args.limit_calls]
        for run in range(args.runs):
            raws.append(raw_vosk(model, legs_of(limit_calls), threads=2))
            if run == 0:
                with profiled(service.pid, workdir / "profile.txt") as found.profile:
                    ours.append(await our_throughput(service, collector, limit_calls))
            else:
                ours.append(await our_throughput(service, collector, limit_calls))
        print(
            f"  raw Vosk {statistics.median(r.realtime_legs for r in raws):.1f} real-time legs; "
            f"ours at full speed {statistics.median(r.realtime_legs for r in ours):.1f}",
            flush=True,
        )
        found.service_final_rss = ResourceSampler(service.pid).rss()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    found.raw = raws
    found.ours = ours
    found.peer_skipped = peer_missing()
    if found.peer_skipped is None and not args.no_peer:
        model_dir = tuned_model_dir(resolve("en-us", None), TELEPHONY_ENDPOINTS)
        with running_peer(model_dir, workdir / "vosk-server.log") as (url, pid):
            for _ in range(args.runs):
                peers.append(await peer_throughput(url, pid, legs_of(calls[: args.limit_calls])))
            best = found.capacity
            if best:
                found.peer_latency = await peer_latency(url, calls, best)
        found.peer = peers
    elif found.peer_skipped is not None:
        print(f"PEER SKIPPED LOUDLY: {found.peer_skipped}", flush=True)
    found.load_after = os.getloadavg()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ns", default="1,2,4,6,8,10,12,14,16,20,24", help="ramp of concurrent calls")
    parser.add_argument("--runs", type=int, default=3, help="runs of the boundary stages and throughput (medians)")
    parser.add_argument("--budget", type=float, default=660.0, help="seconds allowed for the ramp and re-runs")
    parser.add_argument("--limit-calls", type=int, default=4, help="calls (2 legs each) in the full-speed runs")
    parser.add_argument("--service-root", type=Path, help="run the service from this source tree (A/B of commits)")
    parser.add_argument("--no-peer", action="store_true", help="skip vosk-server even when present")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--json", type=Path, help="also dump the raw figures here")
    args = parser.parse_args()
    args.ns = [int(n) for n in args.ns.split(",")]
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="cw-live-bench-") as tmp:
        found = asyncio.run(main_async(args, Path(tmp)))
    text = render_section(found, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(asdict(found), default=str, indent=1))
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
