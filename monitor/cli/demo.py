"""`callwarden demo`: start the service on embedded defaults and stream the bundled demo call through it, live."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
from websockets.asyncio.client import connect

from evaluation.feeders import stream_twilio
from monitor.cli.serve import setup_logging
from monitor.config.settings import Config, load_config
from monitor.web.server import install_signal_handlers, run_server

DEMO_WAV = Path(__file__).resolve().parents[2] / "demo" / "demo-call.wav"
SEVERITY_MARK = {"info": "  ", "low": "! ", "medium": "!!", "high": "!!", "critical": "!!"}


def add_parser(subparsers: Any) -> None:
    """Register `demo`."""
    demo = subparsers.add_parser("demo", help="run the service and stream the bundled demo call through it")
    demo.add_argument("--wav", type=Path, default=DEMO_WAV, help="an 8 kHz stereo WAV (agent left, customer right)")
    demo.add_argument("--speed", type=float, default=1.0, help="1 = real time (default), 0 = as fast as possible")
    demo.add_argument("--port", type=int, default=0, help="port for the service (default: 8080 if free, else any)")
    demo.add_argument("--stay", action="store_true", help="keep serving after the call (open the dashboard)")
    demo.set_defaults(func=run)


def _port(wanted: int) -> int:
    for candidate in [wanted] if wanted else [8080, 0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise SystemExit(f"callwarden demo: port {wanted} is busy; choose another with --port")


def load_stereo(path: Path) -> np.ndarray[Any, np.dtype[np.int16]]:
    with wave.open(str(path)) as wav:
        if wav.getnchannels() != 2 or wav.getsampwidth() != 2 or wav.getframerate() != 8000:
            raise SystemExit(f"callwarden demo: {path} must be 8 kHz 16-bit stereo (agent left, customer right)")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)


def run(args: argparse.Namespace) -> int:
    audio = load_stereo(args.wav)
    port = _port(args.port)
    setup_logging("WARNING")
    for echoed in ("callwarden.alerts", "monitor.sinks.outbox"):  # the demo prints every alert itself
        logging.getLogger(echoed).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="callwarden-demo-") as tmp:
        config = load_config(None)
        changes: dict[str, Any] = {"port": port, "data_dir": Path(tmp) if not args.stay else config.data_dir}
        if args.speed == 0 or args.speed > 1:
            # Faster than real time: a recording, not a telephony platform. Recognition falls behind by design, so
            # wait for it (backpressure) instead of shedding audio, and lift the per-connection message rate limit.
            ingest = dataclasses.replace(config.ingest, max_messages_per_second=0.0, max_bytes_per_second=0.0)
            changes.update(asr_overflow="block", ingest=ingest)
        return asyncio.run(_demo(dataclasses.replace(config, **changes), audio, args.speed, args.stay))


async def _demo(config: Config, audio: Any, speed: float, stay: bool) -> int:
    stop, started = asyncio.Event(), asyncio.Event()
    install_signal_handlers(stop)
    base = f"127.0.0.1:{config.port}"
    async with asyncio.TaskGroup() as group:
        server = group.create_task(run_server(config, stop, started))
        await started.wait()
        print(
            f"Callwarden is listening on http://{base}/ (dashboard) — streaming {audio.shape[0] / 8000:.0f} s "
            f"of call audio over the Twilio Media Streams protocol\n"
        )
        ended = asyncio.Event()
        watcher = group.create_task(_watch(f"ws://{base}/live", ended))
        await stream_twilio(f"ws://{base}/ingest/twilio", audio, speed=speed, call_id="CAdemo0000000001")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), 60)
        watcher.cancel()
        if stay:
            print(f"\nStill serving on http://{base}/ — Ctrl-C to stop.")
            await stop.wait()
        stop.set()
        await server
    return 0


async def _watch(url: str, ended: asyncio.Event) -> None:
    async with connect(url) as ws:
        async for raw in ws:
            message = json.loads(raw)
            _print(message)
            if message.get("type") == "call_ended":
                ended.set()


def _print(message: dict[str, Any]) -> None:
    kind = message.get("type")
    if kind == "transcript" and message.get("final"):
        print(f"  [{message['start']:6.1f}s] {message['speaker']:>8}: {message['text']}")
    elif kind == "finding":
        f = message["finding"]
        if f["severity"] != "info" or f["outcome"] not in ("absent", "no_sensitive_numbers"):
            mark = SEVERITY_MARK.get(f["severity"], "  ")
            print(
                f"{mark} ALERT {f['severity'].upper():8} {f['rule_id']} → {f['outcome']} at {f['start']:.1f}s: "
                f"{f['reason']}"
            )
    elif kind == "call_ended":
        report = message["report"]
        verdict = "PASS" if report.get("passed") else "FAIL"
        print(f"\nCall ended ({message['reason']}): score {report.get('score')} / 100 — {verdict}")
        for item in report.get("items", []):
            status = {"passed": "ok  ", "failed": "FAIL", "not_applicable": "n/a "}.get(item.get("status"), "?   ")
            print(f"   {status} {item.get('rule_id')}: {item.get('summary', '')}")
    logging.getLogger("callwarden.demo").debug("%s", kind)
