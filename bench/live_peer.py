"""The peer for the live benchmark: alphacep/vosk-server's Python websocket server fed the same legs (not vendored).

Get it (never commit it): use the `fetch` tool or `git clone https://github.com/alphacep/vosk-server /tmp/vosk-server`;
its asr_server.py needs `websockets<14` (its handler takes (websocket, path)) and vosk:
`python3 -m venv /tmp/vosk-server-venv && /tmp/vosk-server-venv/bin/pip install vosk==0.3.45 websockets==13.1`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from websockets.asyncio.client import connect

PEER_DIR = Path("/tmp/vosk-server")
PEER_VENV = Path("/tmp/vosk-server-venv")
RATE = 8000
EOF = '{"eof" : 1}'
HOW_TO_GET = (
    "git clone https://github.com/alphacep/vosk-server /tmp/vosk-server && python3 -m venv /tmp/vosk-server-venv && "
    "/tmp/vosk-server-venv/bin/pip install vosk==0.3.45 websockets==13.1"
)


def peer_missing() -> str | None:
    """Why the peer cannot run here (None when it can)."""
    if not (PEER_DIR / "websocket" / "asr_server.py").exists():
        return f"{PEER_DIR}/websocket/asr_server.py is absent; get it with: {HOW_TO_GET}"
    if not (PEER_VENV / "bin" / "python").exists():
        return f"{PEER_VENV} is absent (asr_server.py needs websockets<14 and vosk); create it with: {HOW_TO_GET}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_peer(model_dir: Path, log: Path) -> Iterator[tuple[str, int]]:
    """vosk-server's asr_server.py on a free loopback port with `model_dir`; yields (ws url, pid)."""
    port = _free_port()
    env = {
        **os.environ,
        "VOSK_MODEL_PATH": str(model_dir),
        "VOSK_SERVER_INTERFACE": "127.0.0.1",
        "VOSK_SERVER_PORT": str(port),
        "VOSK_SAMPLE_RATE": str(RATE),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(PEER_VENV / "bin" / "python"), str(PEER_DIR / "websocket" / "asr_server.py")],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"vosk-server exited with {proc.returncode}; see {log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.2)
        yield f"ws://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(slots=True)
class PeerLeg:
    """What one leg's session saw: wall time each chunk was sent, and (wall, final text) per final result."""

    sent: list[tuple[float, float]] = field(default_factory=list)
    finals: list[tuple[float, str]] = field(default_factory=list)

    def wall_when_sent(self, audio_time: float) -> float | None:
        for audio_end, wall in self.sent:
            if audio_end >= audio_time - 1e-6:
                return wall
        return None

    def final_after(self, wall: float) -> float | None:
        """Receive time of the first non-empty final result that arrived after `wall`."""
        return next((t for t, text in self.finals if t >= wall and text), None)


async def _reader(ws: object, leg: PeerLeg) -> None:
    async for raw in ws:  # type: ignore[attr-defined]
        message = json.loads(raw)
        if "text" in message:
            leg.finals.append((time.time(), str(message["text"])))


async def stream_leg(url: str, pcm: bytes, speed: float, chunk_seconds: float = 0.1) -> PeerLeg:
    """Send one leg (s16le 8 kHz) in the peer's protocol; `speed` 1 = real time, 0 = full speed (lockstep)."""
    leg = PeerLeg()
    step = round(chunk_seconds * RATE) * 2
    async with connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"config": {"sample_rate": RATE}}))
        began = time.monotonic()
        if speed == 0:
            for offset in range(0, len(pcm), step):
                await ws.send(pcm[offset : offset + step])
                message = json.loads(await ws.recv())
                if "text" in message:
                    leg.finals.append((time.time(), str(message["text"])))
            await ws.send(EOF)
            message = json.loads(await ws.recv())
            leg.finals.append((time.time(), str(message.get("text", ""))))
            return leg
        reader = asyncio.create_task(_reader(ws, leg))
        for offset in range(0, len(pcm), step):
            await ws.send(pcm[offset : offset + step])
            sent_to = min(offset + step, len(pcm)) / 2 / RATE
            leg.sent.append((sent_to, time.time()))
            delay = began + sent_to / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await ws.send(EOF)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, 30)
    return leg


@dataclass(frozen=True, slots=True)
class PeerThroughput:
    legs: int
    audio_seconds: float
    wall_seconds: float
    cpu_seconds: float
    idle_rss: int
    rss: int

    @property
    def realtime_legs(self) -> float:
        return self.audio_seconds / self.wall_seconds


async def peer_throughput(url: str, pid: int, legs: Sequence[bytes]) -> PeerThroughput:
    """Every leg in its own session at once, full speed (lockstep chunk → reply, 0.2 s chunks as its test.py)."""
    proc = psutil.Process(pid)
    cpu0, rss0 = sum(proc.cpu_times()[:2]), int(proc.memory_info().rss)
    began = time.perf_counter()
    await asyncio.gather(*(stream_leg(url, pcm, speed=0, chunk_seconds=0.2) for pcm in legs))
    wall = time.perf_counter() - began
    audio = sum(len(pcm) / 2 / RATE for pcm in legs)
    rss = int(proc.memory_info().rss)  # sessions are closed, but like ours the allocator keeps what they used
    return PeerThroughput(len(legs), audio, wall, sum(proc.cpu_times()[:2]) - cpu0, rss0, rss)
