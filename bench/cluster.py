"""Fleet benchmark: calls held per replica and speech-to-alert through HAProxy vs. direct, in the same run.

Run: .venv/bin/python bench/cluster.py [--rounds 4] [--broker mosquitto|nats] [--json out.json]
Starts the fleet of tests/cluster_support.py on this machine (PostgreSQL, the broker, three `callwarden serve`
replicas, HAProxy with deploy/haproxy/haproxy.cfg). Each round streams two card calls at real-time pace at the same
moment (`--concurrent`) or one right after the other (default: the fleet's own load stays at one call): one through
HAProxy, one straight to a replica (the replicas taken in turn); which of the two goes first alternates between
rounds (a paired design: both paths see the same machine load). Calls whose audio a replica shed (recognition more
than 10 s behind: an overloaded machine) are listed; their alerts may be missed. Latency, measured outside the
service as in bench/alert_latency.py: subscriber receive wall time of the first `pan_detected` alert − wall time the
feeder sent the audio holding the end of the card's last digit. Calls held per replica: where HAProxy placed the
calls (calls.replica_id in PostgreSQL), and each replica's peak `active_calls` from /api/status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.alert_latency import FIRST_PASS_POOL, percentile  # noqa: E402
from evaluation.feeders import stream_twilio  # noqa: E402
from streams.models import resolve  # noqa: E402
from tests.cluster_support import Fleet, fleet  # noqa: E402
from tests.monitor.service_harness import CardCall, Received, card_call, get_json, subscriber  # noqa: E402
from tests.test_cluster import shed_seconds  # noqa: E402


async def one_call(url: str, got: Received, call: CardCall, call_id: str) -> float | None:
    feed = await stream_twilio(url, call.call.audio, call_id=call_id, speed=1.0)
    try:
        await got.wait_until(lambda: got.first(call_id, "pan_detected") is not None, 30)
    except TimeoutError:
        return None
    alert = got.first(call_id, "pan_detected")
    sent = feed.wall_when_sent(call.last_digit_end)
    return None if alert is None or sent is None else alert[1] - sent


async def watch_active(f: Fleet, peaks: dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for r in f.replicas:
            try:
                status = await get_json(f"http://{r.base}/api/status")
            except OSError:
                continue
            peaks[r.replica_id] = max(peaks.get(r.replica_id, 0), int(status["active_calls"]))
        await asyncio.sleep(0.5)


async def run(rounds: int, broker: str, concurrent: bool = False) -> dict[str, Any]:
    prefix = f"cwbench-{uuid.uuid4().hex[:8]}"
    pool = [card_call(card, digit_voice=voice) for card, voice in FIRST_PASS_POOL[:4]]
    load_before = os.getloadavg()
    with fleet(resolve("en-us", fetch=False), broker=broker, prefix=prefix, lease_seconds=15.0, max_asr_lag=0) as f:
        host, port = f.broker.host_port
        async with subscriber(host, port, f"{prefix}/#", client_id=f"sub-{prefix}") as got:
            peaks: dict[str, int] = {}
            stop = asyncio.Event()
            watcher = asyncio.create_task(watch_active(f, peaks, stop))
            results: dict[str, list[float | None]] = {"haproxy": [], "direct": []}
            placed: list[str] = []
            started = time.monotonic()
            for n in range(rounds):
                call = pool[n % len(pool)]
                direct = f.replicas[n % len(f.replicas)]
                legs = [("haproxy", f"ws://{f.lb}/ingest/twilio"), ("direct", f"ws://{direct.base}/ingest/twilio")]
                if n % 2:
                    legs.reverse()
                ids = {path: f"CAbench{path[:3]}{n:04d}{uuid.uuid4().hex[:18]}" for path, _ in legs}
                if concurrent:
                    tasks = []
                    for path, url in legs:
                        tasks.append(asyncio.create_task(one_call(url, got, call, ids[path])))
                        await asyncio.sleep(0.3)
                    latencies = list(await asyncio.gather(*tasks))
                else:  # one after the other: the fleet's own load stays at one call
                    latencies = [await one_call(url, got, call, ids[path]) for path, url in legs]
                for (path, _), latency in zip(legs, latencies, strict=True):
                    results[path].append(latency)
                placed.append(str(f.replica_of(ids["haproxy"])))
                pairs_shown = zip(legs, latencies, strict=True)
                shown = [f"{p} {'miss' if x is None else f'{x * 1000:.0f} ms'}" for (p, _), x in pairs_shown]
                print(f"  round {n + 1}: " + ", ".join(shown), flush=True)
            wall = time.monotonic() - started
            stop.set()
            await watcher
            shed = shed_seconds(f)

    def stats(values: list[float | None]) -> dict[str, Any]:
        got_values = [v for v in values if v is not None]
        return {
            "alerts": len(got_values), "missed": len(values) - len(got_values),
            "p50_s": round(statistics.median(got_values), 3) if got_values else None,
            "p95_s": round(percentile(got_values, 0.95), 3) if got_values else None,
        }  # fmt: skip

    pairs = zip(results["haproxy"], results["direct"], strict=True)
    paired = [h - d for h, d in pairs if h is not None and d is not None]
    return {
        "rounds": rounds, "broker": broker, "pairs": "concurrent" if concurrent else "sequential",
        "calls_with_shed_audio": {cid[-6:]: round(v, 1) for cid, v in shed.items()},
        "haproxy": stats(results["haproxy"]), "direct": stats(results["direct"]),
        "paired_median_haproxy_minus_direct_ms": round(statistics.median(paired) * 1000) if paired else None,
        "haproxy_calls_per_replica": dict(Counter(placed)), "peak_active_calls_per_replica": peaks,
        "wall_seconds": round(wall, 1), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--broker", choices=("mosquitto", "nats"), default="mosquitto")
    parser.add_argument("--concurrent", action="store_true", help="stream each round's two calls at the same time")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    summary = asyncio.run(run(args.rounds, args.broker, args.concurrent))
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
