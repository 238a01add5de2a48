"""Live capacity with and without voice-activity gating, paired in one run, against raw Vosk on the same legs.

Run: .venv/bin/python bench/live_gate.py [--ns 2,3,4,5,6,7,8,10,12] [--runs 2] [--budget 1500] [--json out.json]
Two `callwarden serve` processes on one Mosquitto broker, identical but for `asr_vad: off` (A) and
`asr_vad: webrtc` + `asr_recycle_seconds: 10` (B). At each N of the ramp, N real-time Twilio calls (bench/live_calls.py,
as bench/live.py) go to A, then the same N calls to B, so both see the same calls and the same machine minutes.
A system leaves the ramp at its first N failing p95 ≤ 1 s with no alert missed; its capacity is the largest N that
passed. The best and half-capacity stages are then re-run (--runs in all), alternating A and B. In the same run:
raw Vosk (2 threads, in-process, same model and tuning) decodes the legs of 4 calls at full speed (real-time legs).
vosk-server is compared only where bench/live_peer.py finds it (it is not installable from a package registry).
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.live import legs_of, passes, pooled_latencies  # noqa: E402
from bench.live_calls import corpus  # noqa: E402
from bench.live_limit import raw_vosk  # noqa: E402
from bench.live_peer import peer_missing  # noqa: E402
from bench.live_service import AlertCollector, ResourceSampler, ServiceProcess  # noqa: E402
from bench.live_stage import StageResult, run_stage  # noqa: E402
from streams.tuning import TELEPHONY_ENDPOINTS, load_tuned_model  # noqa: E402
from tests.conftest import MosquittoBroker, free_port  # noqa: E402

SYSTEMS = {"ungated": "asr_vad: \"off\"\n", "gated": "asr_vad: webrtc\nasr_recycle_seconds: 10\n"}


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def row(name: str, n: int, stages: list[StageResult]) -> str:
    pooled = pooled_latencies(stages)
    cores = statistics.median(s.cores for s in stages)
    rss = statistics.median(s.rss_per_call for s in stages) / 2**20
    return (
        f"| {name} | {n} | {len(stages)} | {len(pooled)} | {_pct(pooled, 50):.2f} | {_pct(pooled, 95):.2f} | "
        f"{max(pooled, default=float('nan')):.2f} | {sum(s.missed_total for s in stages)} | "
        f"{statistics.median(s.lag_mean for s in stages):.2f} | {cores:.2f} | {rss:.1f} | "
        f"{'yes' if passes(stages) else 'no'} |"
    )


async def main_async(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    calls = corpus()
    model, _ = load_tuned_model("en-us", None, TELEPHONY_ENDPOINTS)
    load_before = os.getloadavg()
    broker = MosquittoBroker(free_port(), workdir)
    broker.start()
    services: dict[str, ServiceProcess] = {}
    results: dict[str, dict[int, list[StageResult]]] = {name: {} for name in SYSTEMS}
    began = time.monotonic()
    stage_seconds = max(c.duration for c in calls) + 8
    try:
        for name, extra in SYSTEMS.items():
            (workdir / name).mkdir()
            service = ServiceProcess(workdir / name, broker.url)
            service.config.write_text(service.config.read_text() + extra)
            service.start()
            services[name] = service
        collector = AlertCollector(broker)
        listener = asyncio.create_task(collector.run())
        await collector.ready.wait()
        for name, service in services.items():
            await run_stage(service, collector, calls, 1, f"warm{name[0]}", speed=0)
        idle = {name: ResourceSampler(s.pid).rss() for name, s in services.items()}
        failed: set[str] = set()

        async def stage(name: str, n: int, tag: str) -> None:
            result = await run_stage(services[name], collector, calls, n, f"{name[0]}{tag}")
            results[name].setdefault(n, []).append(result)
            print(
                f"  {name:8s} N={n:3d} p50 {result.latency_pct(50):.2f} p95 {result.latency_pct(95):.2f} s, "
                f"missed {result.missed}, cores {result.cores:.2f}, lag mean {result.lag_mean:.2f} s, "
                f"rss/call {result.rss_per_call / 2**20:.1f} MiB",
                flush=True,
            )

        for n in args.ns:
            for name in SYSTEMS:
                if name in failed:
                    continue
                if time.monotonic() - began + stage_seconds + n * 0.5 > args.budget:
                    failed.add(name)
                    print(f"  time budget spent before {name} N={n}", flush=True)
                    continue
                await stage(name, n, f"r0n{n}")
                if not passes(results[name][n]):
                    failed.add(name)
            if failed == set(SYSTEMS):
                break
        best = {name: max((n for n, s in r.items() if passes(s)), default=0) for name, r in results.items()}
        half = {
            name: max((n for n, s in r.items() if passes(s) and n <= best[name] / 2), default=0)
            for name, r in results.items()
        }
        for run in range(1, args.runs):
            for name in SYSTEMS:
                for n in sorted({best[name], half[name]} - {0}):
                    if time.monotonic() - began + stage_seconds + n * 0.5 > args.budget:
                        print(f"  time budget spent: no run {run + 1} of {name} N={n}", flush=True)
                        continue
                    await stage(name, n, f"r{run}n{n}")
        best = {name: max((n for n, s in r.items() if passes(s)), default=0) for name, r in results.items()}
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        peak = {name: ResourceSampler(s.pid).rss() for name, s in services.items()}
    finally:
        for service in services.values():
            service.stop()
        broker.stop()
    raws = [raw_vosk(model, legs_of(calls[:4]), threads=2) for _ in range(args.runs)]
    raw_legs = statistics.median(r.realtime_legs for r in raws)
    print("\n| system | N calls | runs | alerts | p50 s | p95 s | max s | missed | ASR lag mean s | service cores |"
          " RSS / call MB | pass |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for name, by_n in results.items():
        for n in sorted(by_n):
            print(row(name, n, by_n[n]))
    summary: dict[str, object] = {
        "capacity_calls": best,
        "capacity_legs": {name: 2 * n for name, n in best.items()},
        "raw_vosk_realtime_legs": raw_legs,
        "gated_vs_ungated": (best["gated"] / best["ungated"]) if best["ungated"] else None,
        "gated_vs_raw": 2 * best["gated"] / raw_legs,
        "ungated_vs_raw": 2 * best["ungated"] / raw_legs,
        "half_capacity_p95": {
            name: _pct(pooled_latencies(results[name].get(half[name], [])), 95) for name in SYSTEMS
        },
        "idle_rss_mb": {k: v / 2**20 for k, v in idle.items()},
        "final_rss_mb": {k: v / 2**20 for k, v in peak.items()},
        "peer": peer_missing() or "present (not run by this bench; see bench/live.py)",
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    print(json.dumps(summary, indent=1))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ns", default="2,3,4,5,6,7,8,10,12", help="ramp of concurrent calls")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--budget", type=float, default=1500.0, help="seconds allowed for the ramps and re-runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.ns = [int(n) for n in args.ns.split(",")]
    with tempfile.TemporaryDirectory(prefix="callwarden-live-gate-") as tmp:
        summary = asyncio.run(main_async(args, Path(tmp)))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
