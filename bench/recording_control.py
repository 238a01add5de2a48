"""PCI pause/resume benchmark: card calls through the real service → pause/resume on MQTT and a signed webhook.

Run: .venv/bin/python bench/recording_control.py [--calls 8] [--concurrency 2] [--runs 3] [--json out.json]
The real service (run_server, real Vosk model, MQTT sink, webhook sink, `recording_control: true`) runs in-process
next to a real Mosquitto, an aiomqtt subscriber and a local HTTP receiver (http.server, 204 to every POST). Each call
is the synthesized card call of tests/monitor/service_harness.card_call (the agent asks for the card number, the
customer reads a test card with a real FSDD voice) streamed as Twilio Media Streams at real-time pace, `--concurrency`
at a time. Measured per control event and transport: trigger-to-wire latency = receive wall time at the subscriber
or receiver − `triggered_wall` in the payload (when the session handled the utterance that opened or closed the
payment context); and per call, whether the pause was received before the customer's card line was stored (the
store's SQLite file is polled every 10 ms by a reader: a row's first-seen time bounds its commit from above).
Each run is a fresh service and broker; the medians over runs of each run's p50 and p95 are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.alert_latency import CALL_POOL, percentile  # noqa: E402
from evaluation.feeders import stream_twilio  # noqa: E402
from monitor.config.settings import WebhookConfig  # noqa: E402
from streams.models import resolve  # noqa: E402
from tests.conftest import MosquittoBroker, free_port  # noqa: E402
from tests.monitor.service_harness import (  # noqa: E402
    CardCall,
    Received,
    Receiver,
    StoreWatch,
    card_call,
    running_service,
    service_config,
    subscriber,
    wait_call_stored,
)

SECRET = "bench-webhook-secret-0123456789"


@dataclass(frozen=True, slots=True)
class CallResult:
    """One call: trigger-to-wire latencies (s) by transport and action, and the pause's lead over the card's store."""

    call_id: str
    latencies: dict[str, list[float]]
    pause_lead: float | None
    """Seconds from the pause reaching the MQTT subscriber to the card line's row appearing (None: no card line)."""
    actions: tuple[str, ...]


async def one_call(base: str, got: Received, receiver: Receiver, watch: StoreWatch, call: CardCall) -> CallResult:
    feed = await stream_twilio(f"ws://{base}/ingest/twilio", call.call.audio, speed=1.0)
    detail = await wait_call_stored(base, feed.call_id)
    topic = f"/calls/{feed.call_id}/control"

    def mqtt() -> list[tuple[dict[str, Any], float]]:
        return [(p, t) for top, p, t in got.messages if top.endswith(topic)]

    def hooks() -> list[tuple[dict[str, Any], float]]:
        found = [(json.loads(body), wall) for wall, status, _, body in receiver.posts if status == 204]
        return [(p, t) for p, t in found if p.get("call_id") == feed.call_id]

    await asyncio.sleep(0.5)
    with_resume = await _settle(lambda: len(mqtt()) >= 2 and len(hooks()) >= 2)
    latencies: dict[str, list[float]] = {}
    for transport, messages in (("mqtt", mqtt()), ("webhook", hooks())):
        for payload, wall in messages:
            key = f"{transport}/{payload['action']}"
            latencies.setdefault(key, []).append(wall - float(payload["triggered_wall"]))
    lead = None
    lines = [
        t for t in detail["transcript"]
        if t["speaker"] == "customer" and ("[card" in t["text"] or "[number]" in t["text"])
    ]
    pauses = [t for p, t in mqtt() if p["action"] == "pause_recording"]
    if lines and pauses:
        first = min(lines, key=lambda line: line["start"])
        stored = watch.first_seen.get((feed.call_id, first["channel"], first["index"]))
        lead = None if stored is None else stored - pauses[0]
    actions = tuple(p["action"] for p, _ in mqtt())
    flag = "" if with_resume else " (no resume yet)"
    print(f"  {feed.call_id[:10]} {actions} lead {lead if lead is None else round(lead, 2)} s{flag}", flush=True)
    return CallResult(feed.call_id, latencies, lead, actions)


async def _settle(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def run_once(calls: int, concurrency: int, stagger: float) -> dict[str, Any]:
    rendered = {(card, voice): card_call(card, digit_voice=voice, late=True) for card, voice in CALL_POOL}
    plan = [CALL_POOL[i % len(CALL_POOL)] for i in range(calls)]
    with tempfile.TemporaryDirectory(prefix="cw-bench-control-") as tmp, Receiver(refuse=0) as receiver:
        broker = MosquittoBroker(free_port(), Path(tmp))
        broker.start()
        prefix = f"cwbench-{uuid.uuid4().hex[:8]}"
        config = service_config(
            Path(tmp) / "data", resolve("en-us", fetch=False), free_port(), broker.url, mqtt_topic_prefix=prefix,
            recording_control=True, recording_resume_seconds=6.0, webhook=WebhookConfig(receiver.url, SECRET),
            max_asr_lag=0.0,  # measured here: control delivery, not admission; a loaded host must not refuse calls
        )
        watch = StoreWatch(config.db_path)
        watcher = asyncio.create_task(asyncio.to_thread(watch.run))
        try:
            async with (
                running_service(config) as base,
                subscriber(broker.host, broker.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
            ):
                slots = asyncio.Semaphore(concurrency)

                async def scheduled(i: int, card: str, voice: str) -> CallResult:
                    async with slots:
                        await asyncio.sleep(stagger * (i % concurrency) if i < concurrency else 0)
                        return await one_call(base, got, receiver, watch, rendered[(card, voice)])

                results = await asyncio.gather(*(scheduled(i, c, v) for i, (c, v) in enumerate(plan)))
        finally:
            watch.stop()
            await watcher
            broker.stop()
    merged: dict[str, list[float]] = {}
    for result in results:
        for key, values in result.latencies.items():
            merged.setdefault(key, []).extend(values)
    leads = [r.pause_lead for r in results if r.pause_lead is not None]
    return {
        "calls": calls,
        "paused_and_resumed": sum(1 for r in results if r.actions == ("pause_recording", "resume_recording")),
        "pause_before_store": sum(1 for lead in leads if lead > 0),
        "with_card_line": len(leads),
        "min_lead_s": min(leads, default=None),
        "latency": {
            key: {"n": len(v), "p50_ms": statistics.median(v) * 1000, "p95_ms": percentile(v, 0.95) * 1000,
                  "max_ms": max(v) * 1000}
            for key, v in sorted(merged.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stagger", type=float, default=4.0, help="seconds between the first calls' starts")
    parser.add_argument("--json", type=Path, help="write the full results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    load_before = os.getloadavg()
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs}", flush=True)
        runs.append(asyncio.run(run_once(args.calls, args.concurrency, args.stagger)))
    keys = sorted({key for run in runs for key in run["latency"]})
    summary: dict[str, Any] = {
        "runs": runs, "concurrency": args.concurrency, "calls_per_run": args.calls, "cpus": os.cpu_count(),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "median_over_runs": {
            key: {q: statistics.median(run["latency"][key][q] for run in runs if key in run["latency"])
                  for q in ("p50_ms", "p95_ms", "max_ms")}
            for key in keys
        },
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print()
    for run in runs:
        print(
            f"run: {run['paused_and_resumed']}/{run['calls']} paused and resumed; pause before the card line was "
            f"stored in {run['pause_before_store']}/{run['with_card_line']} (min lead {run['min_lead_s']} s)"
        )
    for key, values in summary["median_over_runs"].items():
        p50, p95, top = values["p50_ms"], values["p95_ms"], values["max_ms"]
        print(f"{key:28s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {top:6.1f} ms")
    print(f"load average {summary['loadavg_before']} → {summary['loadavg_after']} on {summary['cpus']} CPUs")


if __name__ == "__main__":
    main()
