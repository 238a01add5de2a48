"""Benchmark and acceptance run (not a test) of `callwarden backtest` (issue #20, acceptance 1).

Three steps, each a subcommand, sharing one data directory:

- `stream`: generate the corpus (`callwarden corpus generate`, seed 1) and stream every call through the live
  service (Twilio Media Streams, full speed, the real Vosk model), so the store holds each call's report and its
  redacted event log as production would.
- `accept`: backtest the unchanged packs (must report zero changes, the carried pci verdicts included), then a
  copy of the packs with the recording disclosure window lowered to `--window` seconds, and compare the calls the
  diff names with those the stored findings say must change (their disclosure ended after the new window).
- `speed`: calls/s per core. The streamed calls' event logs are copied (`--copies` each, new call ids) into a
  scratch store, then `backtest` runs with 1 and with 2 worker processes, alternating, `--runs` times each; it
  reports medians, and the median of the paired ratios.

Run: .venv/bin/python bench/backtest.py stream --data D --calls 24; … accept --data D; … speed --data D
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evaluation.corpus_gen import write_generated_corpus  # noqa: E402
from evaluation.feeders import stream_twilio  # noqa: E402
from monitor.backtest.runner import PackSource, Selection, backtest  # noqa: E402
from monitor.config.settings import Config  # noqa: E402
from monitor.store.database import Store  # noqa: E402
from monitor.web.server import run_server  # noqa: E402
from rules.packs import BUILTIN_PACKS_DIR  # noqa: E402
from streams.models import resolve  # noqa: E402

RULE = "disclosure.recording"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def stream(data: Path, corpus: Path, calls: int, seed: int) -> None:
    """Generate (if absent) and stream the corpus through a live service storing into `data`."""
    if not list(corpus.glob("*.json")):
        write_generated_corpus(corpus, calls, seed)
    labels = sorted(corpus.glob("*.json"))[:calls]
    config = dataclasses.replace(
        Config(), host="127.0.0.1", port=free_port(), data_dir=data, model_path=str(resolve("en-us")),
        asr_overflow="block",
    )  # fmt: skip
    stop, started = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(run_server(config, stop, started))
    await started.wait()
    t0 = time.monotonic()
    for i, path in enumerate(labels):
        audio, _ = soundfile.read(str(corpus / json.loads(path.read_text())["audio"]), dtype="int16", always_2d=True)
        params = {"agent": f"agent-{i % 4}", "queue": ("billing", "sales")[i % 2]}
        log = await stream_twilio(
            f"ws://127.0.0.1:{config.port}/ingest/twilio", audio, speed=0, parameters=params,
            call_id=f"corpus-{path.stem}",
        )  # fmt: skip
        await finished(config.port, log.call_id)  # one call at a time: the ASR admission control refuses more
        print(f"streamed {path.stem} ({log.close_code}) {time.monotonic() - t0:.0f} s", file=sys.stderr)
    stop.set()
    await server
    with Store.open(config.db_path) as store:
        ids = store.ended_call_ids()
        logged = sum(store.event_log(c) is not None for c in ids)
    print(json.dumps({"calls": len(ids), "with_event_log": logged}))


async def finished(port: int, call_id: str, timeout: float = 300.0) -> None:
    """Wait until the service stored the call's end (GET /api/calls/<id> no longer says active)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/calls/{call_id}"
    while time.monotonic() < deadline:
        try:
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
            if json.loads(body)["call"]["status"] != "active":
                return
        except urllib.error.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError(f"call {call_id} not finished after {timeout} s")


def changed_packs(target: Path, window: float) -> Path:
    """A copy of the built-in packs with the disclosure window changed (the one edit an officer makes)."""
    target.mkdir(parents=True, exist_ok=True)
    text = (BUILTIN_PACKS_DIR / "recording-disclosure.yaml").read_text()
    assert "      window_seconds: 30\n" in text
    (target / "recording-disclosure.yaml").write_text(text.replace(
        "      window_seconds: 30\n", f"      window_seconds: {window:g}\n"
    ))
    return target


def expected_changes(store: Store, window: float) -> list[str]:
    """The calls whose stored disclosure verdict must flip: passed, but its "said" ended after the new deadline."""
    out = []
    for call_id in store.ended_call_ids():
        report = store.get_report(call_id) or {}
        item = next((i for i in report.get("items", ()) if i["rule_id"] == RULE), None)
        if item is None or item["status"] != "passed":
            continue
        started = report.get("started_at") or 0.0
        said = [f for f in report["findings"] if f["rule_id"] == RULE and f["outcome"] == "said"]
        if said and said[0]["end"] > started + window:
            out.append(call_id)
    return sorted(out)


def accept(data: Path, window: float, workers: int) -> dict[str, Any]:
    with Store.open(data / "callwarden.sqlite3") as store:
        same = backtest(store, PackSource(), Selection(), workers=workers)
        with tempfile.TemporaryDirectory() as tmp:
            changed = backtest(store, PackSource(changed_packs(Path(tmp), window)), Selection(), workers=workers)
        skipped = {c for ids in changed["skipped"].values() for c in ids}  # listed as skipped by the diff itself
        expected = [c for c in expected_changes(store, window) if c not in skipped]
        pci = [c for c in store.ended_call_ids()
               if any(i["status"] == "failed" and i["kind"] == "sensitive_number"
                      for i in (store.get_report(c) or {}).get("items", ()))]  # fmt: skip
    figures = {
        "calls": same["calls"],
        "skipped": same["skipped"],
        "unchanged_packs_changed_calls": same["changed_calls"],
        "calls_with_failed_pci_rule_stored": len(pci),
        "carried_rules": same["carried_rules"],
        "window": window,
        "changed_calls": changed["changed_calls"],
        "expected": expected,
        "exact": changed["changed_calls"] == expected,
        "rule_entry": changed["rules"][RULE],
        "calls_newly_failing": changed["calls_newly_failing"],
    }
    return figures


def copy_store(source: Path, target: Path, copies: int) -> int:
    """A scratch store holding each stored call's report and event log `copies` times (new call ids)."""
    n = 0
    with Store.open(source) as src, Store.open(target, src.keys) as dst:
        for call_id in src.ended_call_ids():
            report, lines, summary = src.get_report(call_id), src.event_log(call_id), src.get_call_summary(call_id)
            if report is None or lines is None or summary is None:
                continue
            for k in range(copies):
                new = f"{call_id}-copy{k}"
                quoted_old, quoted_new = json.dumps(call_id), json.dumps(new)
                dst.call_started(new, protocol="twilio", started_wall=summary.started_wall + k,
                                 metadata=summary.metadata, language=summary.language)  # fmt: skip
                dst.add_event_log(new, [line.replace(quoted_old, quoted_new, 1) for line in lines])
                dst.call_ended(new, ended_wall=summary.started_wall + k + 60, audio_seconds=summary.audio_seconds,
                               report={**report, "call_id": new})  # fmt: skip
                n += 1
    return n


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def speed(data: Path, copies: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "bench.sqlite3"
        calls = copy_store(data / "callwarden.sqlite3", scratch, copies)
        rates: dict[int, list[float]] = {1: [], 2: []}
        cpu_rates: dict[int, list[float]] = {1: [], 2: []}
        changed: set[int] = set()
        with Store.open(data / "callwarden.sqlite3") as source:
            keys = source.keys
        with Store.open(scratch, keys) as store:
            for _ in range(runs):
                for workers in (1, 2):
                    cpu, children = time.process_time(), _children_cpu()
                    result = backtest(store, PackSource(), Selection(), workers=workers)
                    used = time.process_time() - cpu + _children_cpu() - children  # parent (reading) + workers
                    cpu_rates[workers].append(round(calls / used, 1))
                    rates[workers].append(result["calls_per_second"])
                    changed.add(len(result["changed_calls"]))
                    read = result["read_seconds"]
    ratios = [b / a for a, b in zip(rates[1], rates[2], strict=True)]
    return {
        "calls": calls,
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
        "calls_per_s_1_worker": rates[1],
        "calls_per_s_2_workers": rates[2],
        "median_1": statistics.median(rates[1]),
        "median_2": statistics.median(rates[2]),
        "median_ratio_2_over_1": round(statistics.median(ratios), 2),
        "calls_per_cpu_s_incl_read": cpu_rates,
        "median_cpu_rate_1": statistics.median(cpu_rates[1]),
        "median_cpu_rate_2": statistics.median(cpu_rates[2]),
        "changed_calls_seen": sorted(changed),
        "last_read_seconds": read,
    }


def _rescore_partition(part: list[Any], source: PackSource) -> list[Any]:
    from monitor.backtest.rescore import rescore_all
    from monitor.backtest.runner import candidate_ruleset

    return rescore_all(part, candidate_ruleset(source))


def with_dask(data: Path, window: float) -> dict[str, Any]:
    """docs/backtest.md's Dask recipe on the local process scheduler: the same diff as `backtest`?"""
    import dask.bag as db

    from monitor.backtest.runner import candidate_ruleset, diff, stored_calls

    with Store.open(data / "callwarden.sqlite3") as store, tempfile.TemporaryDirectory() as tmp:
        source = PackSource(changed_packs(Path(tmp), window))
        reference = backtest(store, source, Selection(), workers=2)
        calls, _ = stored_calls(store, Selection())
        t0 = time.perf_counter()
        outcomes = (
            db.from_sequence(calls, partition_size=16)
            .map_partitions(_rescore_partition, source)
            .compute(scheduler="processes", num_workers=2)
        )
        seconds = time.perf_counter() - t0
        result = diff(calls, outcomes, candidate_ruleset(source))
    timing = ("skipped", "workers", "read_seconds", "rescore_seconds", "calls_per_second")
    same = result == {k: v for k, v in reference.items() if k not in timing}
    return {"calls": len(calls), "same_diff_as_backtest": same, "dask_seconds": round(seconds, 2),
            "changed_calls": result["changed_calls"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--corpus", type=Path)
    s.add_argument("--calls", type=int, default=24)
    s.add_argument("--seed", type=int, default=1)
    a = sub.add_parser("accept")
    a.add_argument("--data", type=Path, required=True)
    a.add_argument("--window", type=float, default=8.0)
    a.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("speed")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--copies", type=int, default=40)
    p.add_argument("--runs", type=int, default=3)
    d = sub.add_parser("dask")
    d.add_argument("--data", type=Path, required=True)
    d.add_argument("--window", type=float, default=8.0)
    args = parser.parse_args()
    if args.step == "stream":
        asyncio.run(stream(args.data, args.corpus or args.data / "corpus", args.calls, args.seed))
    elif args.step == "accept":
        print(json.dumps(accept(args.data, args.window, args.workers), indent=2))
    elif args.step == "dask":
        print(json.dumps(with_dask(args.data, args.window), indent=2))
    else:
        print(json.dumps(speed(args.data, args.copies, args.runs), indent=2))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
